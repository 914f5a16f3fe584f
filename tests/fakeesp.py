"""A local stand-in for an ESP's HTTP API (Postmark's), for anymail's real Postmark backend.

It answers `POST /email` the way Postmark documents: 200 with a MessageID when it accepts a
message, 422 with an ErrorCode when it refuses one, and whatever failures a test scripts.
Like a real ESP, it accepts a request it has received in full even when its answer never
reaches the client: `accepted` (what a reviewer counts for "exactly once") holds every
message it took, whether or not the client heard about it.

A test scripts the next answers with `Step`s:
- `Step()`: accept and answer 200 at once (also what every unscripted request gets);
- `Step(500, body)`, `Step(429, body, {"Retry-After": "2"})`: refuse; nothing accepted;
- `Step(delay=3)`: accept, then answer 3 s later (a client with a shorter read timeout has
  given up by then: "accepted, then timed out");
- `Step(drop=True)`: accept, then close the connection without an answer;
- `Step(stall=3)`: hang for 3 s before taking the request; if the client has gone by then,
  it is discarded, nothing taken (a timeout before the request reached the ESP);
- `Step(hold=True)`: accept, then keep the answer until the test calls `release()`;
- `Step(gateway=502)`: accept, but the gateway in front of the API loses the answer and
  says 502 with an HTML page of its own.

With `send_webhooks_to(url, secret)` it also posts a Postmark Delivery webhook for every
message it accepted (its MessageID, Tag and Metadata), as Postmark does a moment later.
"""

from __future__ import annotations

import base64
import json
import select
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Step:
    """One scripted answer to the next request (see the module docstring)."""

    status: int = 200
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hold: bool = False
    drop: bool = False
    stall: float = 0.0
    gateway: int = 0


@dataclass
class Accepted:
    message_id: str
    payload: dict
    answered: bool = False  # the client received the 200

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
        self.dropped = 0  # stalled requests whose client was gone before the ESP read them
        self.unanswered = 0  # accepted, but the client was gone before the answer
        self.attempt_times: list[float] = []  # time.monotonic() of each POST /email
        self.webhooks_posted = 0
        self._busy = 0  # requests and webhook posts in progress
        self._script: list[Step] = []
        self._lock = threading.Lock()
        self.holding = threading.Event()  # set while a request is held
        self._release = threading.Event()
        self._webhook: tuple[str, str] | None = None
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

    def send_webhooks_to(self, url: str, secret: str) -> None:
        """Post a Delivery event for each accepted message to `url` (basic auth `secret`)."""
        self._webhook = (url, secret)

    def webhooks_off(self) -> None:
        self._webhook = None

    @property
    def idle(self) -> bool:
        """No request is being received or answered, no webhook is on its way."""
        with self._lock:
            return self._busy == 0

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

    def _busy_by(self, n: int) -> None:
        with self._lock:
            self._busy += n

    def _next_step(self) -> Step:
        with self._lock:
            self.attempts += 1
            self.attempt_times.append(time.monotonic())
            return self._script.pop(0) if self._script else Step()

    def _accept(self, payload: dict) -> Accepted:
        message = Accepted(str(uuid.uuid4()), payload)
        with self._lock:
            self.accepted.append(message)
        if self._webhook:
            self._busy_by(1)  # counted before the thread starts: `idle` never misses it
            threading.Thread(target=self._post_delivery, args=(message,), daemon=True).start()
        return message

    def _post_delivery(self, message: Accepted) -> None:
        url, secret = self._webhook
        event = {
            "RecordType": "Delivery",
            "ServerID": 23,
            "MessageStream": "outbound",
            "MessageID": message.message_id,
            "Recipient": message.to,
            "Tag": message.payload.get("Tag", ""),
            "DeliveredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "Details": "Test delivery webhook details",
            "Metadata": message.payload.get("Metadata") or {},
        }
        request = urllib.request.Request(
            url,
            data=json.dumps(event).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": "Basic " + base64.b64encode(secret.encode()).decode(),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
            with self._lock:
                self.webhooks_posted += 1
        finally:
            self._busy_by(-1)

    def _handler(self):
        esp = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                esp._busy_by(1)
                try:
                    self._post()
                finally:
                    esp._busy_by(-1)

            def _post(self):
                length = int(self.headers.get("Content-Length") or 0)
                if self.path.rstrip("/") != "/email":
                    self.rfile.read(length)
                    return self._reply(404, {"ErrorCode": 404, "Message": "not found"})
                if self.headers.get("X-Postmark-Server-Token") != esp.token:
                    self.rfile.read(length)
                    return self._reply(401, {"ErrorCode": 10, "Message": "Bad or missing Server API token."})
                step = esp._next_step()
                if step.stall:
                    time.sleep(step.stall)  # too busy to take the request
                raw = self.rfile.read(length)
                if step.stall and self._client_gone():
                    # Like an API's front end that discards a queued request whose client
                    # has gone before the request reached the API.
                    with esp._lock:
                        esp.dropped += 1
                    self.close_connection = True
                    return None
                payload = json.loads(raw)
                if step.status != 200:
                    with esp._lock:
                        esp.refused += 1
                    return self._reply(
                        step.status, step.body or {"ErrorCode": 500, "Message": "Error"}, step.headers
                    )
                # Received in full: the message is the ESP's now, whatever happens to the answer.
                message = esp._accept(payload)
                if step.gateway:
                    with esp._lock:
                        esp.unanswered += 1
                    return self._reply(step.gateway, None, raw=b"<html><h1>Bad Gateway</h1></html>")
                if step.drop:
                    self.close_connection = True
                    with esp._lock:
                        esp.unanswered += 1
                    return None
                if step.hold:
                    esp.holding.set()
                    esp._release.wait(60)
                    esp._release.clear()
                    esp.holding.clear()
                if step.delay:
                    time.sleep(step.delay)
                if (step.hold or step.delay) and self._client_gone(wait=0.2 if step.hold else 0.0):
                    with esp._lock:
                        esp.unanswered += 1
                    self.close_connection = True
                    return None
                message.answered = self._reply(
                    200,
                    {
                        "To": payload.get("To", ""),
                        "SubmittedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "MessageID": message.message_id,
                        "ErrorCode": 0,
                        "Message": "OK",
                    },
                )
                return None

            def _client_gone(self, wait: float = 0.0) -> bool:
                # A client killed an instant ago may take a moment to close its end.
                readable, _, _ = select.select([self.connection], [], [], wait)
                if not readable:
                    return False
                try:
                    return self.connection.recv(1, 0x2) == b""  # MSG_PEEK: EOF means gone
                except OSError:
                    return True

            def _reply(self, status, body, headers=None, raw: bytes | None = None) -> bool:
                data = raw if raw is not None else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html" if raw is not None else "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                    return True
                except OSError:
                    return False

            def log_message(self, format, *args):
                pass

        return Handler
