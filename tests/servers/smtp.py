"""A real SMTP server (aiosmtpd) on a free loopback port, recording every message it accepts.

It can refuse chosen recipients (550 by default, or any reply such as a 450), drop the connection instead of
answering DATA, and be stopped and started again on the same port to imitate an outage. Use the ``smtp_server``
fixture (import it into the test module) or the ``run_smtp_server`` context manager.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    def parsed(self) -> EmailMessage:
        """The message as Python's `email` package reads it, with the wire's CRLF line ends turned into LF."""
        message = email.message_from_bytes(self.raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


class _RecordingHandler:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refusals: dict[str, str] = {}
        self.drops = 0
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        with self.lock:
            refusal = self.refusals.get(address.lower())
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            drop, self.drops = self.drops > 0, max(self.drops - 1, 0)
        if drop:
            assert server.transport is not None
            server.transport.close()
            return "421 Closing"  # never reaches the client: the connection is already gone
        content = envelope.original_content or b""
        with self.lock:
            self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(content)))
        return "250 Message accepted for delivery"


class SmtpServer:
    """One server: ``port``, ``received`` (with envelopes), ``messages`` (raw); ``refuse``, ``drop_next``, restart."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.port = free_port()  # aiosmtpd cannot bind port 0: start() connects to the port it was given
        self._handler = _RecordingHandler()
        self._controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        with self._handler.lock:
            return list(self._handler.received)

    @property
    def messages(self) -> list[bytes]:
        return [item.raw for item in self.received]

    @property
    def running(self) -> bool:
        return self._controller is not None

    def refuse(self, address: str, reply: str = "550 5.1.1 Mailbox unavailable") -> None:
        with self._handler.lock:
            self._handler.refusals[address.lower()] = reply

    def drop_next(self, count: int = 1) -> None:
        with self._handler.lock:
            self._handler.drops += count

    def start(self) -> None:
        if self._controller is None:
            # A stopped controller has closed its event loop, so each start needs a new one.
            controller = Controller(self._handler, hostname=self.host, port=self.port, ready_timeout=5)
            controller.start()
            self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def django_settings(self) -> dict[str, Any]:
        """Settings that send Django's mail here over plain SMTP."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": self.host,
            "EMAIL_PORT": self.port, "EMAIL_USE_TLS": False, "EMAIL_USE_SSL": False, "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "", "EMAIL_TIMEOUT": 5,
        }  # fmt: skip


@contextmanager
def run_smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with run_smtp_server() as server:
        yield server
