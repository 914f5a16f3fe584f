"""A local stand-in for an ESP's HTTP API (Postmark's), for anymail's real Postmark backend.

It answers `POST /email` the way Postmark documents: 200 with a MessageID when it accepts a
message, 422 with an ErrorCode when it refuses one, and whatever failures a test scripts
(500, 429 with Retry-After, a hang longer than the client's timeout). Only messages it
answered 200 for count as accepted; `accepted` is what a reviewer counts for "exactly once".

A scripted `hold` keeps a request open until the test releases it; if the client is gone
by then (a worker killed while waiting), the request is dropped without being accepted,
as an API drops a request whose connection died before it answered.
"""

from __future__ import annotations

import json
import select
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Step:
    """One scripted answer to the next request: status, body, headers, delay, or a hold."""

    status: int = 200
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hold: bool = False


@dataclass
class Accepted:
    message_id: str
    payload: dict

    @property
    def to(self) -> str:
        return self.payload["To"]

    @property
    def digest_id(self) -> str | None:
        return (self.payload.get("Metadata") or {}).get("digest_id")

    def header(self, name: str) -> str | None:
        for h in self.payload.get("Headers") or []:
            if h["Name"].lower() == name.lower():
                return h["Value"]
        return None


class FakeESP:
    token = "fake-postmark-server-token"

    def __init__(self) -> None:
        self.accepted: list[Accepted] = []
        self.attempts = 0  # every POST /email that arrived
        self.refused = 0  # answered with an error
        self.dropped = 0  # held or slow requests whose client was gone before the answer
        self.attempt_times: list[float] = []  # time.monotonic() of each POST /email
        self._script: list[Step] = []
        self._lock = threading.Lock()
        self.holding = threading.Event()  # set while a request is held
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def settings(self) -> dict[str, str]:
        """Environment for a process whose mail should go here through anymail."""
        return {
            "DJANGO_EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
            "ANYMAIL_POSTMARK_SERVER_TOKEN": self.token,
            "ANYMAIL_POSTMARK_API_URL": self.url,
        }

    def start(self) -> FakeESP:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def script(self, *steps: Step) -> None:
        """Answer the next requests with these steps, then accept everything."""
        with self._lock:
            self._script.extend(steps)

    def release(self) -> None:
        self._release.set()

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.accepted) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the ESP accepted {len(self.accepted)} messages, not {count}, in {timeout}s"
                )
            time.sleep(0.05)

    def by_digest(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for message in self.accepted:
            counts[message.digest_id] = counts.get(message.digest_id, 0) + 1
        return counts

    def _next_step(self) -> Step:
        with self._lock:
            self.attempts += 1
            self.attempt_times.append(time.monotonic())
            return self._script.pop(0) if self._script else Step()

    def _handler(self):
        esp = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/email":
                    return self._reply(404, {"ErrorCode": 404, "Message": "not found"})
                if self.headers.get("X-Postmark-Server-Token") != esp.token:
                    return self._reply(401, {"ErrorCode": 10, "Message": "Bad or missing Server API token."})
                step = esp._next_step()
                if step.hold:
                    esp.holding.set()
                    esp._release.wait(60)
                    esp._release.clear()
                    esp.holding.clear()
                    if self._client_gone(wait=2.0):
                        with esp._lock:
                            esp.dropped += 1
                        return None
                if step.delay:
                    time.sleep(step.delay)
                    if self._client_gone():  # the client timed out: nothing was accepted
                        with esp._lock:
                            esp.dropped += 1
                        return None
                payload = json.loads(raw)
                if step.status != 200:
                    with esp._lock:
                        esp.refused += 1
                    return self._reply(
                        step.status, step.body or {"ErrorCode": 500, "Message": "Error"}, step.headers
                    )
                message_id = str(uuid.uuid4())
                with esp._lock:
                    esp.accepted.append(Accepted(message_id, payload))
                return self._reply(
                    200,
                    {
                        "To": payload.get("To", ""),
                        "SubmittedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "MessageID": message_id,
                        "ErrorCode": 0,
                        "Message": "OK",
                    },
                )

            def _client_gone(self, wait: float = 0.0) -> bool:
                # A client killed an instant ago may take a moment to close its end.
                readable, _, _ = select.select([self.connection], [], [], wait)
                if not readable:
                    return False
                try:
                    return self.connection.recv(1, 0x2) == b""  # MSG_PEEK: EOF means gone
                except OSError:
                    return True

            def _reply(self, status, body, headers=None):
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

            def log_message(self, format, *args):
                pass

        return Handler
