"""A real Radicale CalDAV server, run in a background thread of the test process.

Use the ``radicale_server`` fixture (import it into the test module) or the ``run_radicale`` context manager.
The server can be stopped and started again on the same port with the same storage, which is how tests
cut a client off in the middle of a sync.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import caldav
import pytest
import radicale.config
import radicale.server

READY_TIMEOUT = 5.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class RadicaleServer:
    """One Radicale instance: ``url``, ``port``, ``stop()`` and ``start()`` (same port, same storage)."""

    def __init__(
        self, root: Path, *, users: dict[str, str] | None = None, certificate: tuple[Path, Path] | None = None
    ) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"{'https' if certificate else 'http'}://127.0.0.1:{self.port}/"
        self._config = self._configure(users, certificate)
        self._thread: threading.Thread | None = None
        self._shutdown: socket.socket | None = None
        self._error: BaseException | None = None

    def _configure(
        self, users: dict[str, str] | None, certificate: tuple[Path, Path] | None
    ) -> radicale.config.Configuration:
        # No delay after a failed login: the wrong-password test would otherwise wait a second.
        auth: dict[str, str] = {"type": "none", "delay": "0"}
        if users is not None:
            htpasswd = self.root / "users"
            htpasswd.write_text("".join(f"{name}:{password}\n" for name, password in users.items()))
            auth.update(type="htpasswd", htpasswd_filename=str(htpasswd), htpasswd_encryption="plain")
        server = {"hosts": f"127.0.0.1:{self.port}"}
        if certificate is not None:
            server.update(ssl="True", certificate=str(certificate[0]), key=str(certificate[1]))
        conf = radicale.config.load([])
        conf.update(
            {
                "server": server,
                "auth": auth,
                "storage": {"filesystem_folder": str(self.root / "collections")},
                "logging": {"level": "warning"},
            },
            "test",
        )
        # Durability is irrelevant for a throwaway store; skipping fsync keeps every PUT fast.
        conf.update({"storage": {"_filesystem_fsync": "False"}}, "test", privileged=True)
        return conf

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        reader, self._shutdown = socket.socketpair()
        self._error = None
        self._thread = threading.Thread(target=self._serve, args=(reader,), name=f"radicale-{self.port}", daemon=True)
        self._thread.start()
        self._wait_ready()

    def _serve(self, reader: socket.socket) -> None:
        try:
            radicale.server.serve(self._config, reader)
        except BaseException as exc:  # surfaced to the test thread by _wait_ready
            self._error = exc

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"Radicale did not start on port {self.port}: {self._error!r}")
            if _port_open(self.port):
                return
            time.sleep(0.01)
        raise RuntimeError(f"Radicale did not answer on port {self.port} within {READY_TIMEOUT} s")

    def make_calendar(self, *, username: str = "mia", password: str = "app-password", cal_id: str = "work") -> str:
        """Create a calendar as a user's own calendar app would, and return its URL."""
        with caldav.DAVClient(url=self.url, username=username, password=password, enable_rfc6764=False) as client:
            return str(client.principal().make_calendar(name=cal_id.title(), cal_id=cal_id).url)

    def stop(self) -> None:
        """Close the shutdown socket; Radicale finishes the requests in flight and closes its port."""
        if self._shutdown is not None:
            self._shutdown.close()
            self._shutdown = None
        if self._thread is not None:
            self._thread.join(READY_TIMEOUT)
            self._thread = None


@contextmanager
def run_radicale(
    tmp_path: Path, *, users: dict[str, str] | None = None, certificate: tuple[Path, Path] | None = None
) -> Iterator[RadicaleServer]:
    """Start Radicale with storage under ``tmp_path``: auth none, or htpasswd plain for ``users``;
    HTTPS with ``certificate`` (certificate file, key file)."""
    server = RadicaleServer(tmp_path, users=users, certificate=certificate)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def radicale_server(tmp_path: Path) -> Iterator[RadicaleServer]:
    with run_radicale(tmp_path) as server:
        yield server
