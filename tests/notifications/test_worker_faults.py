"""Real workers on a real Redis: messages go out once through a worker killed mid-send and through a broker outage.

Each test starts its own Redis and Celery worker processes against the test database, with the SMTP server and the
Twilio endpoint running in this process, and counts what those servers received.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone

from notifications.dispatch import dispatch_due
from notifications.models import Message
from tests.notifications.test_outbox import SID, TOKEN
from tests.servers.redis import RedisServer, run_redis

pytestmark = pytest.mark.production
ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 3
OUTAGE_SECONDS = int(os.environ.get("FAULT_TEST_OUTAGE_SECONDS", "60"))


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    return f"sqlite:///{s['NAME']}" if s["NAME"].startswith("/") else f"sqlite:///{Path(s['NAME']).resolve()}"


class Worker:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def broker() -> Iterator[RedisServer]:
    with run_redis() as server:
        yield server


@pytest.fixture
def start_worker(broker: RedisServer, smtp_server: Any, twilio_fake: Any) -> Iterator[Callable[[], Worker]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.django.local",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": broker.url,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.port),
        "EMAIL_USE_TLS": "false",
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM_NUMBER": "+447900000001",
        "TWILIO_API_BASE_URL": twilio_fake.url,
        "SITE_URL": "https://mediation.example.org",
        "NOTIFICATIONS_LEASE_SECONDS": str(LEASE_SECONDS),
        "SMS_QUIET_HOURS": "",  # these tests run at any hour
    }
    workers: list[Worker] = []

    def start() -> Worker:
        worker = Worker(env)
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def _dispatch(broker: RedisServer) -> int:
    """What beat's dispatcher does: hand due rows to the workers through the broker."""
    sender = Celery(broker=broker.url)
    try:
        return dispatch_due(
            now=timezone.now(),
            send=lambda pk: sender.send_task("notifications.tasks.message_send_task", args=[pk], retry=False),
        )
    finally:
        sender.close()


def _wait_until_sent(broker: RedisServer, total: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = Message.objects.filter(status__in=["sent", "delivered"]).count()
        if done == total:
            return
        _dispatch(broker)
        time.sleep(0.5)
    states = collections.Counter(Message.objects.values_list("status", flat=True))
    raise AssertionError(f"not all messages sent in {timeout}s: {states}")


def _book_meetings(count: int) -> None:
    from tests.notifications.test_outbox import _booked

    for _ in range(count):
        _booked()
    # Only what is due now: the invitations (reminders wait for their time).
    Message.objects.exclude(kind="invitation").delete()


def _callback_tokens(fake: Any) -> list[str]:
    return [parse_qs(urlsplit(r.form["StatusCallback"]).query)["m"][0] for r in fake.created]


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_redis_sends_every_due_message_once(
    broker: Any,
    start_worker: Any,
    smtp_server: Any,
    twilio_fake: Any,
) -> None:
    _book_meetings(3)
    total = Message.objects.count()
    assert total == 12  # per meeting: 3 emails and 1 SMS
    start_worker()
    _wait_until_sent(broker, total)
    assert len(smtp_server.received) == 9
    assert len(twilio_fake.created) == 3
    assert sorted(_callback_tokens(twilio_fake)) == sorted(
        Message.objects.filter(channel="sms").values_list("callback_token", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_loses_nothing_and_duplicates_nothing(
    broker: Any,
    start_worker: Any,
    smtp_server: Any,
    twilio_fake: Any,
) -> None:
    _book_meetings(8)
    Message.objects.filter(channel="email").delete()
    total = Message.objects.count()
    twilio_fake.pass_next(3)
    twilio_fake.hang_next(1)  # the 4th send is in flight when the worker dies
    worker = start_worker()
    _dispatch(broker)
    assert twilio_fake.hanging.wait(30), "the worker never reached the 4th message"
    worker.kill()
    in_flight = Message.objects.filter(status="sending")
    assert in_flight.count() == 1
    time.sleep(LEASE_SECONDS + 0.5)  # the dead worker's lease runs out
    start_worker()
    _wait_until_sent(broker, total)
    tokens = _callback_tokens(twilio_fake)
    assert len(tokens) == total and len(set(tokens)) == total  # every message created once at Twilio


@pytest.mark.django_db(transaction=True)
def test_bookings_during_a_broker_outage_succeed_and_their_messages_go_out_after(
    broker: Any,
    start_worker: Any,
    smtp_server: Any,
    twilio_fake: Any,
    settings: Any,
) -> None:
    from config.celery import app

    settings.CELERY_BROKER_URL = broker.url  # so bookings try to hand urgent messages to the (dead) broker
    app.conf.update(broker_url=broker.url, task_always_eager=False)
    try:
        broker.stop()
        started = time.monotonic()
        _book_meetings(2)
        took = time.monotonic() - started
        total = Message.objects.count()
        assert total == 8 and Message.objects.filter(status="pending").count() == total
        assert took < 20, f"booking waited {took:.1f}s on the dead broker"
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - started)))
    finally:
        app.conf.update(broker_url=None, task_always_eager=True)
        app.pool.force_close_all()
        if not broker._process:
            broker.start()
    start_worker()
    _wait_until_sent(broker, total)
    assert len(smtp_server.received) == 6 and len(twilio_fake.created) == 2
