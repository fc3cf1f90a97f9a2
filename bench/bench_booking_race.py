"""Benchmark of booking under a race: 200 clients at once for 50 slots, over HTTP, on gunicorn and PostgreSQL.

A fresh database `bench_race` (manage.py migrate), a private Redis as the broker (bookings hand their invitations to
it), and gunicorn serving config.wsgi on loopback. Each round: one mediator, 50 distinct meeting times of that
mediator, 4 clients per time, each client booking its own case (POST /api/cases/{id}/meetings/ with a token), all
released together by a barrier. The baseline is the machine's plain PostgreSQL write rate (pgbench -N), measured in
the same run. Run: .venv/bin/python bench/bench_booking_race.py
"""

from __future__ import annotations

import http.client
import json
import os
import re
import runpy
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
for path in (HERE.parent, HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from support import (  # noqa: E402
    PYTHON,
    ROOT,
    as_markdown,
    database_create,
    database_drop,
    database_url,
    django_setup,
    free_port,
    ms,
    percentile,
    row,
    scratch_database,
    server_version,
    service_env,
    stop_process,
    wait_for_port,
)

COMMAND = ".venv/bin/python bench/bench_booking_race.py"
DB_NAME = "bench_race"
PGBENCH_DB = "bench_pgbench"
SLOTS = 50
CLIENTS_PER_SLOT = 4
ROUNDS = int(os.environ.get("RACE_ROUNDS", "4"))  # all clients released at once
PACED_ROUNDS = 2  # the same race, arriving at the target rate
# gunicorn as deployed: its settings file (gunicorn.conf.py) gives the processes and threads.
GUNICORN_CONF = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
WORKERS, THREADS = GUNICORN_CONF["workers"], GUNICORN_CONF["threads"]
# The warm-up books one time per gunicorn thread, two clients each, so every thread has booked and refused once.
WARM_TIMES = WORKERS * THREADS
TARGET_RATE = 200.0
TARGET_P95_MS = 300.0
LONDON = ZoneInfo("Europe/London")


@dataclass
class Attempt:
    status: int = 0
    started: float = 0.0
    finished: float = 0.0
    body: bytes = b""

    @property
    def ms(self) -> float:
        return (self.finished - self.started) * 1000


@dataclass
class Round:
    mediator_id: int
    jobs: list[tuple[int, dict[str, Any]]]  # (case id, request body) per client
    attempts: list[Attempt]
    cpu_seconds: float = 0.0  # CPU time the gunicorn workers spent on this round
    postgres_seconds: float = 0.0  # and PostgreSQL's processes
    client_seconds: float = 0.0  # and this process (the clients)

    @property
    def seconds(self) -> float:
        return max(a.finished for a in self.attempts) - min(a.started for a in self.attempts)

    @property
    def statuses(self) -> Counter[int]:
        return Counter(a.status for a in self.attempts)


# --- data ------------------------------------------------------------------------------------------------


def meeting_times(first_day: date, count: int) -> list[tuple[datetime, datetime]]:
    """Two 3-hour meetings a weekday (09:30 and 13:30 local), far enough apart for the 15-minute buffers."""
    times: list[tuple[datetime, datetime]] = []
    day = first_day
    while len(times) < count:
        if day.weekday() < 5:
            for hour, minute in ((9, 30), (13, 30)):
                start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)
                times.append((start, start + timedelta(hours=3)))
        day += timedelta(days=1)
    return times[:count]


def build(rounds: int) -> tuple[str, list[Round], Round, Round]:
    """The coordinator's token, the measured rounds, a warm-up round (2 clients for each of WARM_TIMES times) and a
    pair of clients for one time, for counting the SQL of a booking and of a conflict."""
    from rest_framework.authtoken.models import Token

    from scheduling.occupancy import resource_for_mediator
    from tests.booking import helpers

    today = datetime.now(LONDON).date()
    t = helpers.tenant(today=today)
    token = Token.objects.create(user=t["coordinator"]).key
    # From 14 days ahead (past 5 working days' notice, whatever the holidays). Each round has times of its own:
    # the LA officer of every case is one person, so no two rounds may share a time.
    all_times = meeting_times(today + timedelta(days=14), WARM_TIMES + 1 + rounds * SLOTS)

    def make_round(name: str, slots: int, per_slot: int) -> Round:
        mediator = helpers.mediator(t, name=name)
        resource_for_mediator(mediator)
        jobs = []
        times = [all_times.pop(0) for _ in range(slots)]
        for i in range(slots * per_slot):
            case = helpers.case(t, la_notified=today - timedelta(days=2))
            start, end = times[i % slots]
            body = {"start": start.isoformat(), "end": end.isoformat(), "mediator": mediator.pk, "mode": "online"}
            jobs.append((case.pk, body))
        return Round(mediator.pk, jobs, [])

    warm, pair = make_round("Warm", WARM_TIMES, 2), make_round("Pair", 1, 2)
    return token, [make_round(f"Race {n}", SLOTS, CLIENTS_PER_SLOT) for n in range(rounds)], warm, pair


# --- the clients ---------------------------------------------------------------------------------------


def post(port: int, token: str, case_id: int, body: dict[str, Any], attempt: Attempt) -> None:
    payload = json.dumps(body).encode()
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "Host": "127.0.0.1"}
    attempt.started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", f"/api/cases/{case_id}/meetings/", payload, headers)
        response = conn.getresponse()
        attempt.body = response.read()
        attempt.status = response.status
    except OSError as exc:
        attempt.body = repr(exc).encode()
    finally:
        attempt.finished = time.perf_counter()
        conn.close()


def race(port: int, token: str, rnd: Round) -> Round:
    """One thread per client, all released together."""
    barrier = threading.Barrier(len(rnd.jobs))
    rnd.attempts = [Attempt() for _ in rnd.jobs]

    def client(i: int) -> None:
        case_id, body = rnd.jobs[i]
        barrier.wait()
        post(port, token, case_id, body, rnd.attempts[i])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(rnd.jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    return rnd


def race_paced(port: int, token: str, rnd: Round, rate: float) -> Round:
    """The same race arriving at `rate` attempts a second: the clients of each time are released together (they still
    race for it), one time after another. The latency at that load, where `race` gives the latency of a burst."""
    barrier = threading.Barrier(len(rnd.jobs) + 1)
    rnd.attempts = [Attempt() for _ in rnd.jobs]
    gap = CLIENTS_PER_SLOT / rate
    begin = [0.0]

    def client(i: int) -> None:
        case_id, body = rnd.jobs[i]
        barrier.wait()
        delay = begin[0] + (i % SLOTS) * gap - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        post(port, token, case_id, body, rnd.attempts[i])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(rnd.jobs))]
    for thread in threads:
        thread.start()
    begin[0] = time.perf_counter() + 0.05
    barrier.wait()
    for thread in threads:
        thread.join(180)
    return rnd


def get_many(port: int, token: str, path: str, count: int) -> None:
    """Concurrent GETs, so that every gunicorn thread has loaded the app and opened its database connection."""

    def one() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", path, headers={"Authorization": f"Token {token}", "Host": "127.0.0.1"})
        conn.getresponse().read()
        conn.close()

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)


# --- the server and the baseline ----------------------------------------------------------------------------


def start_gunicorn(port: int, broker_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = service_env(
        DB_NAME,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        CELERY_BROKER_URL=broker_url,
        DATABASE_CONN_MAX_AGE="60",
        SITE_URL=f"http://127.0.0.1:{port}",
    )
    command = [
        str(Path(PYTHON).with_name("gunicorn")), "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{port}",
        "--log-level", "warning",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_for_port(port)
    return process


def pgbench_tps() -> tuple[float, str]:
    """Plain simple-write transactions per second on this machine's PostgreSQL (pgbench -N, 8 clients, 10 s)."""
    url = database_url(PGBENCH_DB)
    database_create(PGBENCH_DB)
    try:
        subprocess.run(["pgbench", "-i", "-q", "-s", "10", url], check=True, capture_output=True)
        command = ["pgbench", "-N", "-c", "8", "-j", "2", "-T", "10", url]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    finally:
        database_drop(PGBENCH_DB)
    found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    if found is None:
        raise RuntimeError(f"no tps in pgbench output:\n{out}")
    return float(found.group(1)), "pgbench -i -s 10, then pgbench -N -c 8 -j 2 -T 10"


def statements_per_booking(token: str, pair: Round) -> tuple[int, int]:
    """SQL statements of one winning booking and of one 409, through the API in this process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(headers={"Authorization": f"Token {token}"})
    counts = []
    for (case_id, body), expected in zip(pair.jobs, (201, 409), strict=True):
        with CaptureQueriesContext(connection) as captured:
            answer = client.post(f"/api/cases/{case_id}/meetings/", body, content_type="application/json")
        if answer.status_code != expected:
            raise AssertionError(f"expected {expected}, got {answer.status_code}: {answer.content[:300]!r}")
        counts.append(len(captured))
    return counts[0], counts[1]


def workers_cpu_seconds(master_pid: int) -> float:
    """User + system CPU time used so far by the gunicorn worker processes (children of the master)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:  # fields[1] is the parent pid; utime and stime are fields 14 and 15
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def postgres_cpu_seconds() -> float:
    """User + system CPU time used so far by this machine's PostgreSQL processes (those still running)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, fields = text.split("(", 1)[1].rsplit(")", 1)
        if name.startswith("postgres"):
            fields_ = fields.split()
            total += int(fields_[11]) + int(fields_[12])
    return total / ticks


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def analyze() -> None:
    """Statistics for the freshly built tables, as a running database has them (autovacuum would otherwise gather
    them in the middle of a round)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def overlaps_sql() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM scheduling_occupancy a JOIN scheduling_occupancy b
               ON a.resource_id = b.resource_id AND a.id < b.id AND a.active AND b.active
               AND tstzrange(a.start, a."end") && tstzrange(b.start, b."end")"""
        )
        return int(cursor.fetchone()[0])


# --- the run -------------------------------------------------------------------------------------------------


def run() -> dict[str, object]:
    from tests.servers.redis import run_redis

    with run_redis() as redis, scratch_database(DB_NAME), tempfile.TemporaryDirectory() as tmp:
        django_setup(DB_NAME)
        started = time.perf_counter()
        token, rounds, warm, pair = build(ROUNDS + PACED_ROUNDS)
        rounds, paced = rounds[:ROUNDS], rounds[ROUNDS:]
        build_s = time.perf_counter() - started
        analyze()
        load = os.getloadavg()[0]
        port = free_port()
        log = Path(tmp) / "gunicorn.log"
        server = start_gunicorn(port, redis.url, log)
        try:
            get_many(port, token, f"/api/cases/{warm.jobs[0][0]}/", WORKERS * THREADS * 2)
            race(port, token, warm)
            for rnd in rounds:
                time.sleep(1)  # let the server settle between rounds
                cpu, postgres, own = workers_cpu_seconds(server.pid), postgres_cpu_seconds(), own_cpu_seconds()
                race(port, token, rnd)
                rnd.cpu_seconds = workers_cpu_seconds(server.pid) - cpu
                rnd.postgres_seconds = postgres_cpu_seconds() - postgres
                rnd.client_seconds = own_cpu_seconds() - own
            for rnd in paced:
                time.sleep(1)
                race_paced(port, token, rnd, TARGET_RATE)
        finally:
            stop_process(server)
        problems = [a for a in warm.attempts if a.status not in (201, 409)]
        if warm.statuses[201] != WARM_TIMES:
            problems += [a for a in warm.attempts if a.status == 409]
        if problems:
            raise AssertionError(f"warm-up bookings failed: {problems[:3]}\n{log.read_text()[-3000:]}")
        tps, pgbench_command = pgbench_tps()
        sql = statements_per_booking(token, pair)
        return report(rounds, paced, tps, pgbench_command, build_s, load, sql, log.read_text())


def report(
    rounds: list[Round],
    paced: list[Round],
    tps: float,
    pgbench_command: str,
    build_s: float,
    load: float,
    sql: tuple[int, int],
    log: str,
) -> dict[str, object]:
    from booking.models import Meeting
    from scheduling.models import Occupancy
    from scheduling.occupancy import overlapping_active_pairs

    clients = SLOTS * CLIENTS_PER_SLOT
    everything = rounds + paced
    booked = [r.statuses[201] for r in everything]
    conflicts = [r.statuses[409] for r in everything]
    other = [sum(n for s, n in r.statuses.items() if s not in (201, 409)) for r in everything]
    rates = [clients / r.seconds for r in rounds]
    latencies = [a.ms for r in rounds for a in r.attempts]
    p50, p95, worst = percentile(latencies, 0.5), percentile(latencies, 0.95), max(latencies)
    paced_latencies = [a.ms for r in paced for a in r.attempts]
    paced_p50, paced_p95 = percentile(paced_latencies, 0.5), percentile(paced_latencies, 0.95)
    paced_rates = [clients / r.seconds for r in paced]
    rate = sum(rates) / len(rates)
    cores = os.cpu_count() or 1
    cpu_ms = sum(r.cpu_seconds for r in rounds) * 1000 / clients / len(rounds)
    postgres_ms = sum(r.postgres_seconds for r in rounds) * 1000 / clients / len(rounds)
    client_ms = sum(r.client_seconds for r in rounds) * 1000 / clients / len(rounds)
    all_ms = cpu_ms + postgres_ms + client_ms
    pairs, sql_pairs = overlapping_active_pairs(), overlaps_sql()
    # Every winning booking holds the mediator and the LA officer together; every time has exactly one meeting.
    one_per_time = all(
        Meeting.objects.filter(mediator_id=r.mediator_id, status="confirmed").values("start").distinct().count()
        == Meeting.objects.filter(mediator_id=r.mediator_id, status="confirmed").count()
        == SLOTS
        for r in everything
    )
    partial = sum(
        1
        for m in Meeting.objects.filter(mediator_id__in=[r.mediator_id for r in everything])
        if Occupancy.objects.filter(meeting=m, active=True).count() != 2
    )
    clean_409 = all(
        b"detail" in a.body or b"message" in a.body for r in everything for a in r.attempts if a.status == 409
    )
    odd = Counter((a.status, a.body[:120]) for r in everything for a in r.attempts if a.status not in (201, 409))

    def each(values: list[int]) -> str:
        return " / ".join(str(v) for v in values)

    rows = [
        row("bookings (201) per round", each(booked), f"= {SLOTS} each", all(b == SLOTS for b in booked)),
        row(
            "clean conflicts (409) per round",
            each(conflicts),
            f"= {clients - SLOTS} each",
            all(c == clients - SLOTS for c in conflicts) and clean_409,
        ),  # fmt: skip
        row("other statuses (5xx, 4xx, no answer), all rounds", sum(other), "= 0", sum(other) == 0),
        row(
            "overlapping active occupancies (overlapping_active_pairs / SQL tstzrange &&)",
            f"{pairs} / {sql_pairs}",
            "= 0",
            pairs == 0 and sql_pairs == 0,
        ),  # fmt: skip
        row(
            "one meeting per time, each holding mediator and LA officer together",
            "yes" if one_per_time and partial == 0 else f"no ({partial} partial)",
            "yes",
            one_per_time and not partial,
        ),  # fmt: skip
        row(
            "booking attempts per second (burst: all clients of a round at once; mean of the rounds)",
            f"{rate:.0f}",
            f"≥ {TARGET_RATE:g}",
            rate >= TARGET_RATE,
            f"pgbench -N {tps:,.0f} tps",
            f"{rate / tps:.3f}×",
        ),  # fmt: skip
        row(
            f"latency of the burst, over all {len(latencies)} attempts: p50 / p95 (max)",
            f"{ms(p50)} / {ms(p95)} ({ms(worst)})",
            f"p95 ≤ {TARGET_P95_MS:g} ms",
            p95 <= TARGET_P95_MS,
        ),  # fmt: skip
        row(
            f"latency at {TARGET_RATE:g} attempts/s (paced: a time's {CLIENTS_PER_SLOT} clients together, a time"
            f" every {CLIENTS_PER_SLOT / TARGET_RATE * 1000:.0f} ms), {len(paced_latencies)} attempts: p50 / p95",
            f"{ms(paced_p50)} / {ms(paced_p95)}",
            f"p95 ≤ {TARGET_P95_MS:g} ms",
            paced_p95 <= TARGET_P95_MS,
        ),  # fmt: skip
    ]
    notes = [
        f"gunicorn as deployed (gunicorn.conf.py: {WORKERS} processes × {THREADS} threads, gthread) on 127.0.0.1"
        " (settings config.django.local, DJANGO_DEBUG=false, DATABASE_CONN_MAX_AGE=60 as in production), PostgreSQL"
        f" {server_version()} (a fresh database `{DB_NAME}`), a private redis-server as the Celery broker (each booking"
        " hands its invitation to it on commit; no worker consumes them here), SMS_QUIET_HOURS empty.",
        f"{ROUNDS} burst rounds and {PACED_ROUNDS} paced rounds, each with its own mediator and its own 50 distinct"
        " 3-hour times (09:30 and 13:30 on"
        f" weekdays from 14 days ahead, 15-minute buffers), {CLIENTS_PER_SLOT} clients per time, each client booking"
        f" its own case (an LA officer is a required participant of every case, so each booking claims the mediator"
        f" and the officer). {clients} threads in this process, released by one barrier; each opens its own"
        " connection and sends POST /api/cases/{id}/meetings/ with a token. Latency: from connect to the last byte of"
        " the answer. Rate: clients / (last answer - first connect) per round. A burst round releases all its"
        " clients by one barrier; a paced round releases the clients of each time together, one time after another,"
        f" so that attempts arrive at {TARGET_RATE:g}/s (achieved:"
        f" {', '.join(f'{r:.0f}/s' for r in paced_rates)}; each time is still raced for by its"
        f" {CLIENTS_PER_SLOT} clients).",
        f"Burst rounds: {', '.join(f'{r:.0f}/s in {s.seconds:.2f} s' for r, s in zip(rates, rounds, strict=True))}."
        f" Before them, {WORKERS * THREADS * 2} GETs and a warm-up race on another mediator (not counted: 2 clients"
        f" for each of {WARM_TIMES} times, so that every gunicorn thread has booked and refused) load the app."
        f" Data built in {build_s:.0f} s.",
        f"Baseline: {pgbench_command} on a scratch database, after the rounds with gunicorn stopped; one booking"
        " is one transaction with many statements (case lock, checks, meeting, occupancies through the exclusion"
        " constraint, case history, outbox rows), so the ratio says how close the API comes to the raw write rate.",
        "How a race is run: a booking first reads, outside any transaction, whether the mediator's time is already"
        " taken (scheduling.occupancy.mediator_time_taken, written as SQL: it is the read every attempt makes); a"
        " clear loser answers 409 there, after 5 statements. The"
        " others begin a transaction by taking the mediator's turn for the day (a transaction-scoped PostgreSQL"
        " advisory lock, scheduling.occupancy.take_turn), so the racers for a time that was still free when they read"
        " wait there, holding nothing, for the winner's commit, then find the time taken with the same one read and"
        " answer 409 before locking or reading their case; the exclusion constraint stays the last word. A winning"
        " booking reads the case (with its provider's reminder schedule) under its lock, its participants once and"
        " its resources in one query, leaves the rule of one confirmed meeting per case to a unique constraint,"
        " writes its messages and attendees in one insert each, and moves the case through both states in one"
        " write. Connections prepare the"
        " statements they run again and again (DATABASE_PREPARED_STATEMENTS).",
        f"Where the time goes, in CPU per attempt (mean over the rounds): gunicorn workers {cpu_ms:.1f} ms,"
        f" PostgreSQL {postgres_ms:.1f} ms, the clients {client_ms:.1f} ms; {all_ms:.1f} ms in all, so this"
        f" machine's {cores} cores allow at most {cores * 1000 / all_ms:.0f} attempts/s. A winning booking is"
        f" {sql[0]} SQL statements and a 409 is {sql[1]} (counted once in this process with Django's test Client, one"
        " after the other on a spare time). Load average when the rounds began:"
        f" {load:.1f}.",
    ]
    missed = []
    if rate < TARGET_RATE:
        missed.append(f"the rate by {TARGET_RATE / rate:.1f}× ({rate:.0f}/s for {TARGET_RATE:g}/s)")
    if p95 > TARGET_P95_MS:
        missed.append(f"the burst's p95 latency by {p95 / TARGET_P95_MS:.1f}× ({ms(p95)} for {ms(TARGET_P95_MS)})")
    if paced_p95 > TARGET_P95_MS:
        missed.append(f"p95 latency at {TARGET_RATE:g}/s ({ms(paced_p95)} for {ms(TARGET_P95_MS)})")
    if missed:
        # All clients start together, so the 95th percentile answer comes after about 95% of the round's work.
        needed = 0.95 * clients / (TARGET_P95_MS / 1000)
        why = ["The answers are right (exactly one booking per time, clean 409s, no overlap)."]
        if rate < TARGET_RATE or paced_p95 > TARGET_P95_MS:
            why.append(
                "The rate is bound by the CPU time above, nearly all of it Django's work per query and per request"
                " rather than the database's (see the pgbench ratio)."
            )
        if p95 > TARGET_P95_MS:
            why.append(
                f"With all {clients} clients released at once, the 95th percentile answer waits for about 95% of the"
                f" round, so a burst's p95 of {ms(TARGET_P95_MS)} would need about {needed:.0f} attempts/s here,"
                " whatever the rate target says; the paced rounds give the latency at the target rate itself."
            )
        notes.append(f"Missed: {' and '.join(missed)}. {' '.join(why)}")
    if odd:
        notes.append(f"Unexpected answers: {dict(odd)}; server log tail: {log[-600:]!r}")
    return {"title": "Booking race over HTTP (gunicorn, PostgreSQL)", "command": COMMAND, "rows": rows, "notes": notes}


if __name__ == "__main__":
    print(as_markdown(run()))
