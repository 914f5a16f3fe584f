"""A scripted local web server that plays the outside world (arXiv, Hugging Face, an ESP).

A test registers routes, each with a sequence of replies (the last one repeats), and reads
back every request that arrived: method, path, query, headers, body and arrival time.

    web.route("/rss/cs.LG", Reply(503, headers={"Retry-After": "1"}), Reply(body=feed))
    web.route("/email", lambda request: Reply.json({"id": request.json()["to"]}), method="POST")
    ... the code under test calls web.url + "/rss/cs.LG" ...
    assert [r.path for r in web.requests()] == [...]

It listens on a free loopback port in a background thread; nothing leaves the machine.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    """One scripted answer. `delay` waits before answering (to play a slow or hung server);
    `send_length=False` omits Content-Length, so the client reads until the connection closes."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str = "application/octet-stream"
    send_length: bool = True

    @classmethod
    def json(cls, data, status: int = 200, **kwargs) -> Reply:
        return cls(status=status, body=json.dumps(data), content_type="application/json", **kwargs)

    @property
    def payload(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


Responder = Reply | Callable[["RecordedRequest"], Reply]


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    time: float  # time.monotonic() when the request had arrived

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str, default: str | None = None) -> str | None:
        lowered = {key.lower(): value for key, value in self.headers.items()}
        return lowered.get(name.lower(), default)


@dataclass
class Route:
    method: str
    path: str
    replies: list[Responder]
    query: dict[str, str] | None = None
    served: int = 0

    def matches(self, method: str, path: str, query: dict[str, list[str]]) -> bool:
        if method != self.method or path != self.path:
            return False
        return all(query.get(name, [None])[0] == value for name, value in (self.query or {}).items())

    def next_reply(self, request: RecordedRequest) -> Reply:
        responder = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return responder(request) if callable(responder) else responder


class FakeWeb:
    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fakeweb", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeWeb:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(
        self, path: str, *replies: Responder, method: str = "GET", query: dict[str, str] | None = None
    ) -> Route:
        """Answer `method path` (optionally only when the query has these values) with `replies`
        in turn, repeating the last. A route with query conditions wins over one without."""
        if not replies:
            raise ValueError("a route needs at least one reply")
        route = Route(method=method.upper(), path=path, replies=list(replies), query=query)
        with self._lock:
            self._routes.append(route)
            self._routes.sort(key=lambda r: -len(r.query or {}))
        return route

    def requests(self, path: str | None = None, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self._requests
                if (path is None or r.path == path) and (method is None or r.method == method.upper())
            ]

    def gaps(self, path: str | None = None) -> list[float]:
        """Seconds between the arrivals of successive requests (to `path`, if given)."""
        arrivals = [r.time for r in self.requests(path)]
        return [later - earlier for earlier, later in itertools.pairwise(arrivals)]

    def reset(self) -> None:
        with self._lock:
            self._routes.clear()
            self._requests.clear()

    # The server side ---------------------------------------------------------------------

    def _answer(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            route = next(
                (r for r in self._routes if r.matches(request.method, request.path, request.query)), None
            )
            if route is None:
                return Reply(404, body=f"fakeweb: no route for {request.method} {request.path}")
            return route.next_reply(request)

    def _handler_class(self):
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: simple and explicit

            def _handle(self) -> None:
                arrived = time.monotonic()
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = RecordedRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers=dict(self.headers.items()),
                    body=body,
                    time=arrived,
                )
                reply = web._answer(request)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.payload
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    if reply.send_length:
                        self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to tell it

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, format, *args):
                pass

        return Handler
