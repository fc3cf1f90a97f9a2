"""A local stand-in for Twilio's Messages API, for the real twilio client to talk to.

It records every request and answers like Twilio: 201 with a message resource, or, when told to, 500, 429,
a 400 error with a given Twilio code, or no answer at all (a hang, for timeouts). Use the ``twilio_fake`` fixture
(import it into the test module) or the ``run_twilio_fake`` context manager.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

MESSAGES_PATH = "/2010-04-01/Accounts/{sid}/Messages.json"
HANG_LIMIT = 10.0


@dataclass
class RecordedRequest:
    method: str
    path: str
    form: dict[str, str]
    auth: tuple[str, str] | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    kind: str  # "status", "error" or "hang"
    status: int = 500
    code: int | None = None


class TwilioFake:
    """``url`` to point the client at; ``requests`` as received; ``fail_next``, ``reject_next``, ``hang_next``."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._faults: deque[_Fault] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.hanging = threading.Event()
        self.created: list[RecordedRequest] = []  # requests for which a message was really created (201)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def fail_next(self, count: int = 1, *, status: int = 500) -> None:
        """Answer the next ``count`` requests with ``status`` (500, 503, 429...) and a Twilio-style error body."""
        self._queue(count, _Fault("status", status=status, code=20429 if status == 429 else None))

    def reject_next(self, count: int = 1, *, code: int = 21211, status: int = 400) -> None:
        """Answer with a Twilio error, e.g. 21610 (unsubscribed recipient) or 21211 (invalid To number)."""
        self._queue(count, _Fault("error", status=status, code=code))

    def pass_next(self, count: int = 1) -> None:
        """Answer the next ``count`` requests normally (to place a later fault after them)."""
        self._queue(count, _Fault("pass"))

    def hang_next(self, count: int = 1) -> None:
        """Accept the next ``count`` requests but never answer (until the fake stops, or HANG_LIMIT seconds)."""
        self._queue(count, _Fault("hang"))

    def _queue(self, count: int, fault: _Fault) -> None:
        with self._lock:
            self._faults.extend([fault] * count)

    def _next_fault(self) -> _Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    @property
    def messages(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/Messages.json")]

    def start(self) -> None:
        self._release.clear()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"twilio-fake-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> TwilioFake:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, request: RecordedRequest, account_sid: str) -> tuple[int, dict[str, Any]] | None:
        """The status and JSON body for ``request``, or None to hang."""
        with self._lock:
            self.requests.append(request)
        if request.path != MESSAGES_PATH.format(sid=account_sid) or request.method != "POST":
            return 404, _error(20404, 404, f"The requested resource {request.path} was not found")
        if request.auth is None or request.auth[0] != account_sid:
            return 401, _error(20003, 401, "Authenticate")
        fault = self._next_fault()
        if fault is None or fault.kind == "pass":
            with self._lock:
                self.created.append(request)
            return 201, _message(account_sid, request.form)
        if fault.kind == "hang":
            self.hanging.set()
            self._release.wait(HANG_LIMIT)
            return None
        message = "Too Many Requests" if fault.status == 429 else "Internal error"
        if fault.kind == "error":
            message = {21610: "Attempt to send to unsubscribed recipient"}.get(
                fault.code or 0, "Invalid 'To' Phone Number"
            )
        return fault.status, _error(fault.code, fault.status, message)


def _message(account_sid: str, form: dict[str, str]) -> dict[str, Any]:
    sid = "SM" + uuid.uuid4().hex
    body = form.get("Body", "")
    return {
        "sid": sid, "account_sid": account_sid, "to": form.get("To"), "from": form.get("From"), "body": body,
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "status": "accepted" if "MessagingServiceSid" in form and "From" not in form else "queued",
        "num_segments": "1", "num_media": "0", "direction": "outbound-api", "api_version": "2010-04-01",
        "price": None, "price_unit": "GBP", "error_code": None, "error_message": None,
        "date_created": "Tue, 14 Apr 2026 09:00:00 +0000", "date_updated": "Tue, 14 Apr 2026 09:00:00 +0000",
        "date_sent": None, "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json", "subresource_uris": {},
    }  # fmt: skip


def _error(code: int | None, status: int, message: str) -> dict[str, Any]:
    more_info = f"https://www.twilio.com/docs/errors/{code}" if code else None
    return {"code": code, "message": message, "more_info": more_info, "status": status}


def _handler_for(fake: TwilioFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            form = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
            path = urlsplit(self.path).path
            request = RecordedRequest(self.command, path, form, _basic_auth(self.headers.get("Authorization")))
            request.headers = dict(self.headers.items())
            parts = path.split("/")
            account_sid = parts[3] if len(parts) > 3 else ""
            answer = fake.answer(request, account_sid)
            if answer is None:
                self.close_connection = True
                return
            status, payload = answer
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


@contextmanager
def run_twilio_fake() -> Iterator[TwilioFake]:
    with TwilioFake() as fake:
        yield fake


@pytest.fixture
def twilio_fake() -> Iterator[TwilioFake]:
    with run_twilio_fake() as fake:
        yield fake
