"""Benchmark of the CalDAV busy-time sync (scheduling/caldav/sync.py) against a real Radicale server.

A 1,000-event calendar (900 single events and 100 weekly series over the next six months) is synced into BusyBlock
rows: the first sync, then a repeat sync with nothing changed, and one with a single event changed. Requests and
bytes are counted at the HTTP session under the caldav library. The baseline is the naive approach: one
calendar-query REPORT for the data of every event, expanded in full, on every sync. Run:
.venv/bin/python bench/bench_caldav_sync.py
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

COMMAND = ".venv/bin/python bench/bench_caldav_sync.py"
NOW = datetime(2026, 6, 1, 7, tzinfo=UTC)
EVENTS = 1000
SERIES = 100
USER = "mia"
QUERY_ALL = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter>
</C:calendar-query>"""


class Counter:
    def __init__(self) -> None:
        self.requests = 0
        self.sent = 0
        self.received = 0

    @property
    def total(self) -> int:
        return self.sent + self.received


@contextmanager
def counting() -> Iterator[Counter]:
    """Count every HTTP request the caldav library makes, and the bytes of its bodies both ways."""
    import niquests

    counter = Counter()
    real = niquests.Session.request

    def request(session: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        response = real(session, method, url, *args, **kwargs)
        data = kwargs.get("data") or b""
        counter.requests += 1
        counter.sent += len(data) + len(method) + len(url)
        counter.received += len(response.content or b"")
        return response

    with patch.object(niquests.Session, "request", request):
        yield counter


def event_text(n: int) -> str:
    start = NOW + timedelta(days=1 + n % 180, hours=n % 9)
    stamp = f"{start:%Y%m%dT%H%M%SZ}"
    end = f"{start + timedelta(minutes=30 + 15 * (n % 4)):%Y%m%dT%H%M%SZ}"
    extra = ["RRULE:FREQ=WEEKLY;COUNT=26"] if n < SERIES else []
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Bench//EN", "BEGIN:VEVENT", f"UID:event-{n}@bench"]
    lines += [f"DTSTAMP:{stamp}", f"DTSTART:{stamp}", f"DTEND:{end}", "SUMMARY:Busy", *extra, "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR", ""])


def fill(calendar_dir: Path) -> None:
    # Straight into Radicale's file storage: 1,000 PUTs would take longer than the benchmark itself.
    for n in range(EVENTS):
        (calendar_dir / f"event-{n}@bench.ics").write_text(event_text(n), newline="")


def timed(call: Callable[[], Any]) -> tuple[Any, float, Counter]:
    with counting() as counter:
        started = time.perf_counter()
        result = call()
        elapsed = (time.perf_counter() - started) * 1000
    return result, elapsed, counter


def naive_sync(server_url: str, calendar_url: str, window_end: datetime) -> int:
    """Fetch the data of every event in one calendar-query and expand all of it: what a sync without state does."""
    import caldav
    from lxml import etree

    from scheduling.caldav.busy import busy_intervals

    with caldav.DAVClient(url=server_url, username=USER, password="x", enable_rfc6764=False, timeout=10) as dav:
        response = dav.report(calendar_url, QUERY_ALL, depth=1)
        tree = etree.fromstring(response.raw.encode() if isinstance(response.raw, str) else response.raw)
    texts = [el.text for el in tree.iter("{urn:ietf:params:xml:ns:caldav}calendar-data") if el.text]
    start = NOW - timedelta(days=1)
    return sum(len(busy_intervals(t, window_start=start, window_end=window_end)) for t in texts)


def setup_django(workdir: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.django.test")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    import django
    from django.core.management import call_command

    django.setup()
    logging.getLogger("radicale").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        setup_django(workdir)
        from tests.servers.radicale import run_radicale

        with run_radicale(workdir) as server:
            calendar_url = server.make_calendar(username=USER, password="x", cal_id="work")
            fill(workdir / "collections" / "collection-root" / USER / "work")
            return measure(server.url, calendar_url)


def measure(server_url: str, calendar_url: str) -> dict[str, object]:
    from django.conf import settings

    from scheduling.caldav.crypto import secret_encrypt
    from scheduling.caldav.sync import connection_sync
    from scheduling.models import BusyBlock, CalendarConnection, Resource
    from tests.booking import helpers

    t = helpers.tenant(today=NOW.date())
    mediator = helpers.mediator(t)
    resource = Resource.objects.create(kind="mediator", organisation=t["provider"], name="Mia", mediator=mediator)
    connection = CalendarConnection.objects.create(
        resource=resource, server_url=server_url, username=USER, password_encrypted=secret_encrypt("x"),
        calendar_url=calendar_url,
    )  # fmt: skip

    naive_sync(server_url, calendar_url, NOW + timedelta(weeks=27))  # warm-up: Radicale builds its item cache
    first, first_ms, first_n = timed(lambda: connection_sync(connection.pk, now=NOW))
    blocks = BusyBlock.objects.filter(resource=resource).count()
    repeat, repeat_ms, repeat_n = timed(lambda: connection_sync(connection.pk, now=NOW + timedelta(minutes=15)))
    import caldav

    with caldav.DAVClient(url=server_url, username=USER, password="x", enable_rfc6764=False) as dav:
        dav.calendar(url=calendar_url).add_event(event_text(EVENTS + 1), increase_seqno=False)
    one, one_ms, one_n = timed(lambda: connection_sync(connection.pk, now=NOW + timedelta(minutes=30)))
    window_end = connection.__class__.objects.get(pk=connection.pk).synced_until
    naive_blocks, naive_ms, naive_n = timed(lambda: naive_sync(server_url, calendar_url, window_end))
    _, naive2_ms, naive2_n = timed(lambda: naive_sync(server_url, calendar_url, window_end))
    if (first.status, repeat.status, one.status) != ("synced",) * 3 or naive_blocks != blocks + 1:
        raise AssertionError(f"unexpected outcome: {first}, {repeat}, {one}, naive {naive_blocks} vs {blocks}")

    rows = [
        row("first sync: requests", first_n.requests, "≤ 12", first_n.requests <= 12, naive_n.requests),
        row("first sync: bytes", kb(first_n.total), "", None, kb(naive_n.total), ratio(first_n.total, naive_n.total)),
        row("first sync: time", ms(first_ms), "", None, ms(naive_ms), ratio(first_ms, naive_ms)),
        row("repeat sync, no change: requests", repeat_n.requests, "= 1", repeat_n.requests == 1, naive2_n.requests),
        row(
            "repeat sync, no change: bytes", kb(repeat_n.total), "≤ 2 KB", repeat_n.total <= 2048,
            kb(naive2_n.total), ratio(repeat_n.total, naive2_n.total),
        ),  # fmt: skip
        row("repeat sync, no change: time", ms(repeat_ms), "", None, ms(naive2_ms), ratio(repeat_ms, naive2_ms)),
        row("sync after one event added: requests", one_n.requests, "≤ 2", one_n.requests <= 2, naive2_n.requests),
        row("sync after one event added: bytes", kb(one_n.total), "", None, kb(naive2_n.total),
            ratio(one_n.total, naive2_n.total)),
        row("sync after one event added: time", ms(one_ms), "", None, ms(naive2_ms), ratio(one_ms, naive2_ms)),
    ]  # fmt: skip
    notes = [
        f"{EVENTS} events on Radicale ({SERIES} of them weekly series of 26), {blocks} busy blocks over a"
        f" {settings.CALDAV_HORIZON_WEEKS}-week horizon plus a week; SQLite; Radicale in a thread of the same process"
        " (so its work counts in both times), its item cache warmed by one untimed read first.",
        "Requests and bytes are counted at niquests.Session.request under the caldav library: request and response"
        " bodies after decompression (the wire carries less where Radicale gzips), plus method and URL.",
        "Our first sync is a sync-collection REPORT (hrefs, ETags, a token) then calendar-multiget in batches of 100;"
        " a repeat sync is one sync-collection REPORT with the stored token, answered with no changes.",
        "Baseline: a stateless sync, one calendar-query REPORT returning every event's data, all expanded again,"
        " on every run (its figures are for the calendar with the added event);"
        " timings include expanding events and writing BusyBlock rows (ours) or expanding (baseline).",
    ]
    return {
        "title": "CalDAV busy-time sync (scheduling/caldav/sync.py)",
        "command": COMMAND,
        "rows": rows,
        "notes": notes,
    }


def kb(n: int) -> str:
    return f"{n / 1024:.1f} KB"


def ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.3f}×" if baseline else ""


def row(
    metric: str, value: object, target: str = "", met: bool | None = None, baseline: object = "", ratio_: str = ""
) -> dict[str, object]:
    if not ratio_ and isinstance(value, int) and isinstance(baseline, int) and baseline:
        ratio_ = f"{value / baseline:.2f}×"
    return {"metric": metric, "value": str(value), "target": target, "met": met, "baseline": str(baseline),
            "ratio": ratio_}  # fmt: skip


def as_markdown(result: dict[str, object]) -> str:
    lines = [f"### {result['title']}", "", f"`{result['command']}`", ""]
    lines.append("| metric | value | target | met | baseline | ratio |")
    lines.append("|---|---|---|---|---|---|")
    for r in result["rows"]:  # type: ignore[attr-defined]
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        lines.append(f"| {r['metric']} | {r['value']} | {r['target']} | {met} | {r['baseline']} | {r['ratio']} |")
    lines.append("")
    lines.extend(f"- {note}" for note in result["notes"])  # type: ignore[attr-defined]
    return "\n".join(lines)


if __name__ == "__main__":
    print(as_markdown(run()))
