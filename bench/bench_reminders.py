"""Benchmark of reminder fan-out: 10,000 SMS reminders due at once, sent by 2 Celery workers on Redis and PostgreSQL.

A fresh database `bench_reminders` (manage.py migrate), a private redis-server as the broker, the local Twilio endpoint
(tests/servers/twilio_fake.py) in this process, and 2 worker processes (`celery -A config worker --pool solo`). This
process plays beat: every second it calls notifications.dispatch.dispatch_due, which claims due rows and enqueues one
message_send_task per row. Duplicates are counted at the Twilio endpoint by each message's unique StatusCallback token.
The baseline sends the same 10,000 rows again with one plain loop calling message_send in this process (no broker).
Run: .venv/bin/python bench/bench_reminders.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).resolve().parent
for path in (HERE.parent, HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from support import (  # noqa: E402
    PYTHON,
    ROOT,
    as_markdown,
    django_setup,
    percentile,
    row,
    scratch_database,
    server_version,
    service_env,
    stop_process,
)

COMMAND = ".venv/bin/python bench/bench_reminders.py"
DB_NAME = "bench_reminders"
MESSAGES = 10_000
MEETINGS = 20
WORKERS = 2
TICK_SECONDS = 1.0
DEADLINE_SECONDS = 1200  # beat gives up after this; rows unsent by then count as missed
SID, TOKEN = "AC" + "b" * 32, "bench-auth-token"


def settings_env(broker_url: str, twilio_url: str) -> dict[str, str]:
    """What the workers (and this process) run with: real Twilio client to the local endpoint, no quiet hours."""
    return {
        "CELERY_BROKER_URL": broker_url,
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM_NUMBER": "+447900000001",
        "TWILIO_API_BASE_URL": twilio_url,
        "SITE_URL": "https://mediation.example.org",
        "SMS_QUIET_HOURS": "",
        "SMS_RATE_PER_SECOND": "100000",
    }


# --- data --------------------------------------------------------------------------------------------------


def build() -> list[int]:
    """20 confirmed meetings and 10,000 SMS reminders about them, not yet due. Returns the reminders' ids."""
    from django.utils import timezone

    from booking.meetings import meeting_book
    from notifications.models import Message
    from tests.booking import helpers

    now = timezone.now()
    t = helpers.tenant(today=now.date())
    mediator = helpers.mediator(t)
    first = (now + timedelta(days=14)).replace(hour=10, minute=0, second=0, microsecond=0)
    meetings = []
    for i in range(MEETINGS):
        case = helpers.case(t, la_notified=now.date() - timedelta(days=2), officer=False)
        start = first + timedelta(days=i)
        meetings.append(
            meeting_book(
                case=case,
                actor=None,
                start=start,
                end=start + timedelta(hours=3),
                mediator=mediator,
                room=None,
                mode="online",
                now=now,
            )  # fmt: skip
        )
    Message.objects.all().delete()  # the bookings' own invitations and reminders: not part of this benchmark
    later = now + timedelta(days=1)
    rows = [
        Message(
            kind="reminder",
            channel="sms",
            to=f"+4477009{i:05d}",
            recipient_name="Parent",
            organisation=t["provider"],
            case_id=meetings[i % MEETINGS].case_id,
            meeting=meetings[i % MEETINGS],
            context={"link": f"https://mediation.example.org/m/bench{i}/"},
            due_at=later,
            dedupe_key=f"bench-reminder-{i}",
        )  # fmt: skip
        for i in range(MESSAGES)
    ]
    Message.objects.bulk_create(rows, batch_size=2000)
    return list(Message.objects.order_by("pk").values_list("pk", flat=True))


# --- workers and beat -----------------------------------------------------------------------------------------


def start_worker(n: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [
        PYTHON, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-n", f"bench{n}@%h",
        "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_for_workers(app: Any, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(app.control.ping(timeout=0.5) or []) >= count:
            return
    raise RuntimeError(f"fewer than {count} workers answered within {timeout:.0f} s")


def beat_until_sent(app: Any, total: int) -> tuple[int, int, float]:
    """Dispatch every TICK_SECONDS until every row is sent (or the deadline). Returns (ticks, tasks, seconds)."""
    from django.utils import timezone

    from notifications.dispatch import dispatch_due
    from notifications.models import Message

    def send(pk: int) -> None:
        app.send_task("notifications.tasks.message_send_task", args=[pk], retry=False)

    started = time.monotonic()
    ticks = tasks = 0
    while time.monotonic() - started < DEADLINE_SECONDS:
        tick = time.monotonic()
        tasks += dispatch_due(now=timezone.now(), send=send)
        ticks += 1
        if Message.objects.filter(status="sent").count() >= total:
            break
        time.sleep(max(0.0, TICK_SECONDS - (time.monotonic() - tick)))
    return ticks, tasks, time.monotonic() - started


def callback_tokens(requests: list[Any]) -> list[str]:
    return [parse_qs(urlsplit(r.form["StatusCallback"]).query)["m"][0] for r in requests]


# --- the run -------------------------------------------------------------------------------------------------


def run() -> dict[str, object]:
    import tempfile

    from tests.servers.redis import run_redis
    from tests.servers.twilio_fake import run_twilio_fake

    with (
        run_redis() as redis,
        run_twilio_fake() as fake,
        scratch_database(DB_NAME),
        tempfile.TemporaryDirectory() as tmp,
    ):
        env = settings_env(redis.url, fake.url)
        django_setup(DB_NAME, **env)
        return measure(redis.url, fake, env, Path(tmp))


def measure(broker_url: str, fake: Any, env: dict[str, str], tmp: Path) -> dict[str, object]:
    import redis as redis_client
    from celery import Celery
    from django.conf import settings
    from django.db.models import Max
    from django.utils import timezone

    from notifications.models import Message
    from notifications.sending import message_send

    build_started = time.monotonic()
    ids = build()
    build_s = time.monotonic() - build_started
    redis_client.Redis.from_url(broker_url).flushall()  # the bookings' hand-offs of invitations deleted above
    app = Celery(broker=broker_url)
    workers = [start_worker(n, service_env(DB_NAME, **env), tmp / f"worker{n}.log") for n in range(WORKERS)]
    try:
        wait_for_workers(app, WORKERS)
        load = os.getloadavg()[0]
        due = timezone.now() + timedelta(seconds=1)
        Message.objects.update(due_at=due)
        time.sleep(max(0.0, (due - timezone.now()).total_seconds()))
        ticks, tasks, beat_s = beat_until_sent(app, len(ids))
    finally:
        for worker in workers:
            stop_process(worker)
        app.close()
    logs = "".join((tmp / f"worker{n}.log").read_text(errors="replace")[-800:] for n in range(WORKERS))

    statuses = Counter(Message.objects.values_list("status", flat=True))
    sent = Message.objects.filter(status="sent")
    lateness = [(s - d).total_seconds() for s, d in sent.values_list("sent_at", "due_at")]
    finished = sent.aggregate(last=Max("updated_at"))["last"]
    elapsed = (finished - due).total_seconds() if finished else float("nan")
    created = list(fake.created)
    tokens = callback_tokens(created)
    duplicates = len(tokens) - len(set(tokens))
    missed = len(ids) - statuses["sent"]
    unknown = len(set(tokens) - set(Message.objects.values_list("callback_token", flat=True)))
    rate = statuses["sent"] / elapsed if elapsed else 0.0
    lease_s = int(settings.NOTIFICATIONS_LEASE_SECONDS)

    # Baseline: the same rows, sent again by one loop in this process (with a link again: a sent row forgets its own).
    Message.objects.update(
        status="pending", sent_at=None, lease_until=None, attempts=0, provider_id="", due_at=timezone.now(),
        context={"link": "https://mediation.example.org/m/bench/"},
    )  # fmt: skip
    loop_started = time.perf_counter()
    outcomes = Counter(message_send(pk) for pk in ids)
    loop_s = time.perf_counter() - loop_started
    loop_rate = outcomes["sent"] / loop_s
    loop_created = len(fake.created) - len(created)

    nan = float("nan")
    p50, p99 = (percentile(lateness, 0.5), percentile(lateness, 0.99)) if lateness else (nan, nan)
    rows = [
        row(
            f"messages per second, {WORKERS} workers",
            f"{rate:.0f}",
            "",
            None,
            f"one in-process loop {loop_rate:.0f}/s",
            f"{rate / loop_rate:.2f}×",
        ),  # fmt: skip
        row(f"time until all {MESSAGES:,} were sent", f"{elapsed:.1f} s", "", None, f"loop {loop_s:.1f} s"),
        row("lateness (sent_at - due_at): p50 / p99", f"{p50:.1f} s / {p99:.1f} s"),
        row(
            "send tasks enqueued per row (a row re-handed after its lease ran out costs a no-op task)",
            f"{tasks / len(ids):.2f}",
            "",
            None,
        ),
        row("duplicates (a callback token created twice at Twilio)", duplicates, "= 0", duplicates == 0),
        row(f"missed (rows not sent within {DEADLINE_SECONDS} s)", missed, "= 0", missed == 0),
    ]
    notes = [
        f"{MESSAGES:,} SMS reminders (Message rows, channel sms) about {MEETINGS} confirmed meetings, all due at the"
        f" same second; PostgreSQL {server_version()} (a fresh database `{DB_NAME}`), a private redis-server as the"
        f" broker, {WORKERS} workers `celery -A config worker --pool solo` (settings config.django.local,"
        " DJANGO_DEBUG=false), the real twilio client sending to the local Twilio endpoint in this process.",
        "SMS_QUIET_HOURS is empty and SMS_RATE_PER_SECOND is 100000 in the workers and in the baseline, so neither"
        " quiet hours nor the per-sender rate limit (default 10/s, which alone would make 10,000 SMS take 1,000 s) is"
        " what is measured; the limiter still runs (one Redis call per SMS).",
        f"Beat: this process called dispatch_due every {TICK_SECONDS:g} s ({ticks} calls, default limit 500 rows each;"
        f" {tasks:,} tasks enqueued for {MESSAGES:,} rows: a row whose lease ran out before a worker took it is"
        " handed out again, and the worker's claim makes the second task a no-op). Messages per second: rows sent"
        " over the time from due to the last row's final write. Lateness: sent_at (when the worker began the send)"
        f" minus due_at. Load average at the start: {load:.1f}; data built in {build_s:.0f} s.",
        f"Statuses after the workers: {dict(statuses)}; {len(created):,} messages created at the Twilio endpoint,"
        f" {unknown} with a token that is no row's. Baseline: the same rows reset to pending and sent by a plain"
        f" loop over message_send in this process (outcomes {dict(outcomes)}, {loop_created:,} created at the"
        f" endpoint), in {loop_s:.1f} s.",
    ]
    notes.append(
        f"The workers' rate is {rate / loop_rate:.2f}× one plain loop's: with dispatch every second and a"
        f" {lease_s} s lease (NOTIFICATIONS_LEASE_SECONDS, the production default), every row still queued when its"
        f" lease ends is handed out again, so the 2 workers also ran {tasks - len(ids):,} no-op tasks (a claim that"
        " finds the row taken); on this 2-core machine the workers, PostgreSQL, Redis and the Twilio endpoint share"
        " the cores. No target is set for the rate or the lateness."
    )
    if missed or duplicates:
        notes.append(f"Worker log tails: {logs!r}")
    return {"title": "Reminder fan-out (Celery workers on Redis)", "command": COMMAND, "rows": rows, "notes": notes}


if __name__ == "__main__":
    print(as_markdown(run()))
