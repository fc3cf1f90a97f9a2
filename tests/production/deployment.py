"""Production mode in real processes: gunicorn, Celery workers and beat, started as README's "Running in production"
says, with `config.django.production` and secrets made up here, on the test database, a private Redis, the local SMTP
server and the local Twilio endpoint.

Each process runs in a session of its own (gunicorn's and Celery's children included), writes its output to a log
file, and is stopped by `Deployment.stop()`: SIGTERM to gunicorn's process group and SIGKILL to Celery's, then SIGKILL
to whatever is left of any group.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
HOST = "mediation.example.org"
SITE_URL = f"https://{HOST}"
SMS_FROM = "+447900000001"
# Settings the processes take from the environment: none is inherited from the shell that runs the tests.
_OWN = ("DJANGO_", "DATABASE_", "CELERY_", "CACHE_", "EMAIL_", "TWILIO_", "SMS_", "CALDAV_", "NOTIFICATIONS_",
        "SITE_URL", "INBOUND_EMAIL_", "OFFER_EXPIRY_", "DEFAULT_FROM_EMAIL")  # fmt: skip
STOP_SECONDS = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url_of_tests() -> str:
    """The URL of the database pytest-django made for this run (test_<name>), for the processes to share."""
    from urllib.parse import quote

    from django.db import connection

    s = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError("production mode runs on PostgreSQL")
    user, password = quote(s["USER"] or "", safe=""), quote(s["PASSWORD"] or "", safe="")
    auth = f"{user}:{password}@" if password else f"{user}@"
    return f"postgres://{auth}{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{quote(s['NAME'], safe='')}"


def production_env(
    *, database_url: str, redis_port: int, smtp_port: int, twilio_url: str, twilio_sid: str, twilio_token: str
) -> dict[str, str]:
    """The environment of every process, as a deployment would set it (README's table of variables)."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(_OWN)}
    return {
        **inherited,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "config.django.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": HOST,
        "DJANGO_CSRF_TRUSTED_ORIGINS": SITE_URL,
        "DJANGO_LOG_LEVEL": "WARNING",
        # Required in production; the tests' requests come as a TLS proxy's would (Web, below).
        "DJANGO_TRUSTED_PROXY_COUNT": "1",
        "SITE_URL": SITE_URL,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "CACHE_URL": f"redis://127.0.0.1:{redis_port}/1",
        "CALDAV_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_USE_TLS": "false",
        "TWILIO_ACCOUNT_SID": twilio_sid,
        "TWILIO_AUTH_TOKEN": twilio_token,
        "TWILIO_FROM_NUMBER": SMS_FROM,
        "TWILIO_API_BASE_URL": twilio_url,
        # The tests run at any hour; a service that may text at night sets the same (README: "empty: none").
        "SMS_QUIET_HOURS": "",
    }


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    stop_signal: signal.Signals = signal.SIGTERM

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


class Deployment:
    """Starts the processes of one deployment and stops every one of them, whatever happened."""

    def __init__(self, env: dict[str, str], directory: Path) -> None:
        self.env = env
        self.directory = directory
        self.processes: list[Process] = []

    def start(self, name: str, *argv: str, stop_signal: signal.Signals = signal.SIGTERM) -> Process:
        workdir = self.directory / name
        workdir.mkdir(parents=True, exist_ok=True)
        log = workdir / "output.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", *argv],
                cwd=workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the children go with it
            )
        process = Process(name, popen, log, stop_signal)
        self.processes.append(process)
        return process

    def gunicorn(self, port: int, *, workers: int = 2) -> Process:
        return self.start(
            "gunicorn", "gunicorn", "config.wsgi", "-w", str(workers), "-k", "gthread", "--threads", "4",
            "-b", f"127.0.0.1:{port}", "--graceful-timeout", "3", "--log-level", "warning",
        )  # fmt: skip

    def worker(self, name: str = "worker", *, concurrency: int = 2) -> Process:
        return self.start(
            name, "celery", "-A", "config", "worker", "-n", f"{name}@%h", "-c", str(concurrency),
            "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
            stop_signal=signal.SIGKILL,  # any shutdown of a Celery worker takes 2 s; no test needs a graceful one
        )  # fmt: skip

    def beat(self, name: str = "beat") -> Process:
        return self.start(
            name, "celery", "-A", "config", "beat", "-S", "django_celery_beat.schedulers:DatabaseScheduler",
            "--loglevel", "INFO", stop_signal=signal.SIGKILL,  # as for workers: no test needs a graceful stop
        )  # fmt: skip

    def check_running(self) -> None:
        for process in self.processes:
            code = process.popen.poll()
            if code is not None:
                raise AssertionError(f"{process.name} exited with {code}:\n{process.tail()}")

    def report(self) -> str:
        return "\n".join(f"--- {p.name} (pid {p.popen.pid}) ---\n{p.tail()}" for p in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            _signal_group(process, process.stop_signal)
        deadline = time.monotonic() + STOP_SECONDS
        for process in self.processes:
            try:
                process.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # Whatever is left of the group (a worker's child, a gunicorn worker): killed.
            _signal_group(process, signal.SIGKILL)
            if process.popen.poll() is None:
                process.popen.wait(STOP_SECONDS)


def _signal_group(process: Process, sig: signal.Signals) -> None:
    try:
        os.killpg(process.popen.pid, sig)  # the group this test created for the process (start_new_session)
    except (ProcessLookupError, PermissionError):  # the group is gone
        pass


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str, deployment: Deployment | None = None) -> Any:
    """Poll `condition` every 0.2 s until it returns something truthy; fail with the processes' output if it never
    does (or one of them exits meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        if deployment is not None:
            deployment.check_running()
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            report = deployment.report() if deployment is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{report}")
        time.sleep(0.2)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Web:
    """HTTP to gunicorn as the TLS proxy in front of it would send it: the public host name, and
    X-Forwarded-Proto: https (config.django.production trusts that header, SECURE_PROXY_SSL_HEADER)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self, method: str, path: str, body: Any = None, *, token: str | None = None, https: bool = True,
        headers: dict[str, str] | None = None, form: bool = False,
    ) -> Answer:  # fmt: skip
        sent = {"Host": HOST, "Accept": "application/json", **(headers or {})}
        if https:
            sent["X-Forwarded-Proto"] = "https"
        if token:
            sent["Authorization"] = f"Token {token}"
        payload = None
        if body is not None:
            if form:
                from urllib.parse import urlencode

                payload, sent["Content-Type"] = urlencode(body).encode(), "application/x-www-form-urlencoded"
            else:
                payload, sent["Content-Type"] = json.dumps(body).encode(), "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, payload, sent)
            response = conn.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            conn.close()

    def answers(self) -> bool:
        try:
            self.request("GET", "/api/organisations/")  # 401 without a token: cheap
        except OSError:
            return False
        return True
