"""Calendar sync against a real Radicale server: busy time imported into BusyBlock rows, incrementally, with
failures contained by retries and a circuit breaker. Also the end-to-end: a busy event removes slots."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

import caldav
import pytest
from caldav.lib import error
from icalendar import Calendar, Event

from booking.ical import MeetingInvite, build_for_caldav
from scheduling.caldav.client import CalDAVClient, CalDAVError
from scheduling.caldav.crypto import secret_encrypt
from scheduling.caldav.sync import calendars_sync_due, connection_is_stale, connection_sync, stale_resource_ids
from scheduling.models import BusyBlock, CalendarConnection
from scheduling.occupancy import resource_for_mediator
from scheduling.search import SlotQuery, case_slot_search
from tests.booking import helpers
from tests.servers.radicale import RadicaleServer, radicale_server  # noqa: F401

LONDON = ZoneInfo("Europe/London")
USER, PASSWORD = "mia", "app-password"
NOW = datetime(2026, 6, 1, 8, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def event_ics(uid: str, start: datetime, *, minutes: int = 60, extra: tuple[str, ...] = ()) -> str:
    stamp, end = f"{start:%Y%m%dT%H%M%SZ}", f"{start + timedelta(minutes=minutes):%Y%m%dT%H%M%SZ}"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Phone//EN", "BEGIN:VEVENT", f"UID:{uid}"]
    lines += [f"DTSTAMP:{stamp}", f"DTSTART:{stamp}", f"DTEND:{end}", "SUMMARY:Busy", *extra, "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR", ""])


def raw_ics(*events: list[str]) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Phone//EN"]
    for event in events:
        lines += ["BEGIN:VEVENT", "DTSTAMP:20260501T000000Z", *event, "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR", ""])


@pytest.fixture(autouse=True)
def quick_retries(settings: Any) -> None:
    settings.CALDAV_BACKOFF_SECONDS = 0
    settings.CALDAV_ALLOW_PRIVATE_HOSTS = True


@pytest.fixture
def calendar_url(radicale_server: RadicaleServer) -> str:  # noqa: F811
    return radicale_server.make_calendar(username=USER, password=PASSWORD)


@pytest.fixture
def phone(radicale_server: RadicaleServer, calendar_url: str) -> Iterator[caldav.Calendar]:  # noqa: F811
    """The mediator's own calendar app, writing to the same calendar."""
    with caldav.DAVClient(url=radicale_server.url, username=USER, password=PASSWORD, enable_rfc6764=False) as dav:
        yield dav.calendar(url=calendar_url)


def connection_for(resource: Any, server: RadicaleServer, calendar_url: str) -> CalendarConnection:
    return CalendarConnection.objects.create(
        resource=resource, server_url=server.url, username=USER, password_encrypted=secret_encrypt(PASSWORD),
        calendar_url=calendar_url, calendar_name="Work",
    )  # fmt: skip


@pytest.fixture
def connection(db: Any, radicale_server: RadicaleServer, calendar_url: str) -> CalendarConnection:  # noqa: F811
    t = helpers.tenant(today=NOW.date())
    return connection_for(resource_for_mediator(helpers.mediator(t)), radicale_server, calendar_url)


def busy(connection: CalendarConnection) -> list[tuple[datetime, datetime]]:
    rows = BusyBlock.objects.filter(resource_id=connection.resource_id).order_by("start")
    return [(b.start, b.end) for b in rows]


def add(phone: caldav.Calendar, text: str) -> None:
    phone.add_event(text, increase_seqno=False)


# Importing


def test_the_first_sync_imports_busy_time_but_not_free_cancelled_or_our_own_events(
    connection: CalendarConnection, phone: caldav.Calendar
) -> None:
    add(phone, event_ics("dentist@x", utc(2026, 6, 10, 9)))
    add(phone, event_ics("school-run@x", utc(2026, 6, 11, 8), minutes=30))
    add(phone, event_ics("free@x", utc(2026, 6, 12, 9), extra=("TRANSP:TRANSPARENT",)))
    add(phone, event_ics("off@x", utc(2026, 6, 12, 11), extra=("STATUS:CANCELLED",)))
    start = utc(2026, 6, 15, 10)
    ours = MeetingInvite(
        uid="mediation-1@test", sequence=0, start=start, end=start + timedelta(hours=3), location="Online",
        description="", organizer_email="s@example.org", organizer_name="S",
    )  # fmt: skip
    add(phone, build_for_caldav(ours, dtstamp=NOW))

    outcome = connection_sync(connection.pk, now=NOW)

    assert (outcome.status, outcome.full, outcome.changed, outcome.blocks) == ("synced", True, 5, 2)
    assert busy(connection) == [
        (utc(2026, 6, 10, 9), utc(2026, 6, 10, 10)),
        (utc(2026, 6, 11, 8), utc(2026, 6, 11, 8, 30)),
    ]
    connection.refresh_from_db()
    assert connection.sync_mode == "sync" and connection.sync_token
    assert (connection.last_success_at, connection.last_sync_at, connection.last_error) == (NOW, NOW, "")
    assert len(connection.etags) == 5
    assert BusyBlock.objects.get(start=utc(2026, 6, 10, 9)).external_uid == "dentist@x"


def test_an_incremental_sync_applies_added_moved_and_deleted_events(
    connection: CalendarConnection, phone: caldav.Calendar
) -> None:
    add(phone, event_ics("stays@x", utc(2026, 6, 10, 9)))
    add(phone, event_ics("moves@x", utc(2026, 6, 10, 11)))
    add(phone, event_ics("goes@x", utc(2026, 6, 10, 13)))
    connection_sync(connection.pk, now=NOW)

    add(phone, event_ics("new@x", utc(2026, 6, 12, 9)))
    add(phone, event_ics("moves@x", utc(2026, 6, 11, 15)))
    phone.get_event_by_uid("goes@x").delete()
    outcome = connection_sync(connection.pk, now=NOW + timedelta(minutes=15))

    assert (outcome.status, outcome.full, outcome.changed, outcome.deleted) == ("synced", False, 2, 1)
    assert [start for start, _ in busy(connection)] == [utc(2026, 6, 10, 9), utc(2026, 6, 11, 15), utc(2026, 6, 12, 9)]

    with patch.object(caldav.DAVClient, "request", autospec=True, side_effect=caldav.DAVClient.request) as spy:
        again = connection_sync(connection.pk, now=NOW + timedelta(minutes=30))
    assert (again.status, again.changed, again.deleted, spy.call_count) == ("synced", 0, 0, 1)
    assert len(busy(connection)) == 3


def test_a_weekly_series_is_expanded_with_a_moved_and_a_deleted_occurrence(
    connection: CalendarConnection, phone: caldav.Calendar
) -> None:
    series = ["UID:weekly@x", "DTSTART:20260601T090000Z", "DTEND:20260601T100000Z", "RRULE:FREQ=WEEKLY;COUNT=4",
              "EXDATE:20260608T090000Z"]  # fmt: skip
    moved = ["UID:weekly@x", "RECURRENCE-ID:20260615T090000Z", "DTSTART:20260616T140000Z", "DTEND:20260616T150000Z"]
    add(phone, raw_ics(series, moved))

    connection_sync(connection.pk, now=NOW)

    assert busy(connection) == [
        (utc(2026, 6, 1, 9), utc(2026, 6, 1, 10)),
        (utc(2026, 6, 16, 14), utc(2026, 6, 16, 15)),
        (utc(2026, 6, 22, 9), utc(2026, 6, 22, 10)),
    ]


def weekly_local(uid: str, first: datetime, count: int) -> str:
    cal = Calendar()
    cal.add("PRODID", "-//Phone//EN")
    cal.add("VERSION", "2.0")
    event = Event.new(uid=uid, start=first, end=first + timedelta(hours=1), stamp=NOW, summary="Clinic")
    event.add("RRULE", {"FREQ": "WEEKLY", "COUNT": count})
    cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical().decode()


@pytest.mark.parametrize(
    ("now", "first", "expected_utc_hours"),
    [
        pytest.param(utc(2026, 3, 16), datetime(2026, 3, 23, 9, tzinfo=LONDON), [9, 8, 8], id="spring_forward"),
        pytest.param(utc(2026, 10, 12), datetime(2026, 10, 19, 9, tzinfo=LONDON), [8, 9, 9], id="fall_back"),
    ],
)
def test_it_keeps_local_hours_in_dst_weeks(
    connection: CalendarConnection, phone: caldav.Calendar, now: datetime, first: datetime,
    expected_utc_hours: list[int],
) -> None:  # fmt: skip
    add(phone, weekly_local("clinic@x", first, 3))

    connection_sync(connection.pk, now=now)

    assert [start.hour for start, _ in busy(connection)] == expected_utc_hours
    assert all(end - start == timedelta(hours=1) for start, end in busy(connection))


def test_all_day_events_block_the_local_day_and_floating_times_are_london_time(
    connection: CalendarConnection, phone: caldav.Calendar
) -> None:
    add(phone, raw_ics(["UID:holiday@x", "DTSTART;VALUE=DATE:20260610", "DTEND;VALUE=DATE:20260611"]))
    add(phone, raw_ics(["UID:floating@x", "DTSTART:20260612T090000", "DTEND:20260612T100000"]))

    connection_sync(connection.pk, now=NOW)

    assert busy(connection) == [
        (utc(2026, 6, 9, 23), utc(2026, 6, 10, 23)),  # midnight to midnight in BST
        (utc(2026, 6, 12, 8), utc(2026, 6, 12, 9)),
    ]


def test_an_invalidated_token_falls_back_to_a_full_resync(
    radicale_server: RadicaleServer,  # noqa: F811
    connection: CalendarConnection,
    phone: caldav.Calendar,
) -> None:
    add(phone, event_ics("dentist@x", utc(2026, 6, 10, 9)))
    add(phone, event_ics("goes@x", utc(2026, 6, 10, 13)))
    connection_sync(connection.pk, now=NOW)
    for folder in radicale_server.root.rglob("sync-token"):
        shutil.rmtree(folder)  # the server forgets its tokens
    add(phone, event_ics("new@x", utc(2026, 6, 12, 9)))
    phone.get_event_by_uid("goes@x").delete()

    outcome = connection_sync(connection.pk, now=NOW + timedelta(minutes=15))

    assert (outcome.status, outcome.full) == ("synced", True)
    assert [start for start, _ in busy(connection)] == [utc(2026, 6, 10, 9), utc(2026, 6, 12, 9)]
    assert connection_sync(connection.pk, now=NOW + timedelta(minutes=30)).full is False


def test_a_server_without_sync_collection_is_synced_by_comparing_etags(
    connection: CalendarConnection, phone: caldav.Calendar
) -> None:
    add(phone, event_ics("stays@x", utc(2026, 6, 10, 9)))
    add(phone, event_ics("moves@x", utc(2026, 6, 10, 11)))
    add(phone, event_ics("goes@x", utc(2026, 6, 10, 13)))
    refused = error.ReportError(reason="501 Not Implemented", status=501)
    with patch.object(caldav.Calendar, "get_objects_by_sync_token", autospec=True, side_effect=refused):
        first = connection_sync(connection.pk, now=NOW)
        connection.refresh_from_db()
        assert (first.full, connection.sync_mode, connection.sync_token, len(connection.etags)) == (True, "etag", "", 3)

        add(phone, event_ics("moves@x", utc(2026, 6, 11, 15)))
        phone.get_event_by_uid("goes@x").delete()
        add(phone, event_ics("new@x", utc(2026, 6, 12, 9)))
        with patch.object(CalDAVClient, "get_events", autospec=True, side_effect=CalDAVClient.get_events) as fetch:
            delta = connection_sync(connection.pk, now=NOW + timedelta(minutes=15))

    assert (delta.full, delta.changed, delta.deleted) == (False, 2, 1)
    assert sorted(h.rsplit("/", 1)[-1] for h in fetch.call_args.args[2]) == ["moves@x.ics", "new@x.ics"]
    assert [start for start, _ in busy(connection)] == [utc(2026, 6, 10, 9), utc(2026, 6, 11, 15), utc(2026, 6, 12, 9)]


def test_an_endless_series_keeps_covering_the_horizon_as_time_passes(
    connection: CalendarConnection, phone: caldav.Calendar
) -> None:
    add(phone, raw_ics(["UID:forever@x", "DTSTART:20260601T090000Z", "DTEND:20260601T100000Z", "RRULE:FREQ=WEEKLY"]))
    connection_sync(connection.pk, now=NOW)
    first_last = busy(connection)[-1][0]
    assert first_last > NOW + timedelta(weeks=26)

    later = NOW + timedelta(days=8)
    assert connection_sync(connection.pk, now=later).full is True

    assert busy(connection)[-1][0] == first_last + timedelta(weeks=2)  # the window moved 8 days: two more Mondays


# Failures


def test_a_server_stopped_mid_sync_keeps_the_data_opens_the_breaker_and_recovers(
    radicale_server: RadicaleServer,  # noqa: F811
    connection: CalendarConnection,
    phone: caldav.Calendar,
    settings: Any,
) -> None:
    add(phone, event_ics("dentist@x", utc(2026, 6, 10, 9)))
    connection_sync(connection.pk, now=NOW)
    add(phone, event_ics("new@x", utc(2026, 6, 12, 9)))
    fetch = caldav.Calendar.multiget

    def stop_then_fetch(calendar: caldav.Calendar, *args: Any, **kwargs: Any) -> Any:
        radicale_server.stop()  # after the sync REPORT, before the events are fetched
        return fetch(calendar, *args, **kwargs)

    moments = [NOW + timedelta(minutes=15 * n) for n in range(1, 4)]
    with patch.object(caldav.Calendar, "multiget", autospec=True, side_effect=stop_then_fetch):
        outcomes = [connection_sync(connection.pk, now=moment) for moment in moments]

    assert [o.status for o in outcomes] == ["failed"] * 3
    assert "cannot connect" in outcomes[0].error
    connection.refresh_from_db()
    assert connection.consecutive_failures == settings.CALDAV_BREAKER_FAILURES == 3
    assert connection.breaker_open_until == moments[-1] + timedelta(minutes=settings.CALDAV_BREAKER_COOLDOWN_MINUTES)
    assert connection.last_success_at == NOW and "cannot connect" in connection.last_error
    assert busy(connection) == [(utc(2026, 6, 10, 9), utc(2026, 6, 10, 10))]  # the last good data is kept

    with patch.object(CalDAVClient, "sync", autospec=True) as no_calls:
        assert connection_sync(connection.pk, now=moments[-1] + timedelta(minutes=1)).status == "breaker_open"
    assert no_calls.call_count == 0
    assert connection.pk not in calendars_sync_due(now=moments[-1] + timedelta(minutes=20))

    radicale_server.start()
    after = connection.breaker_open_until + timedelta(seconds=1)
    assert connection.pk in calendars_sync_due(now=after)
    recovered = connection_sync(connection.pk, now=after)

    assert (recovered.status, recovered.full) == ("synced", False)
    connection.refresh_from_db()
    assert (connection.consecutive_failures, connection.breaker_open_until, connection.last_error) == (0, None, "")
    assert [start for start, _ in busy(connection)] == [utc(2026, 6, 10, 9), utc(2026, 6, 12, 9)]


def test_transient_errors_are_retried_with_backoff(connection: CalendarConnection, settings: Any) -> None:
    settings.CALDAV_BACKOFF_SECONDS = 1
    blip = CalDAVError("timed out after 10 s", permanent=False, kind="timeout")
    real_sync = CalDAVClient.sync
    failures = iter([blip, blip])

    def flaky(client: CalDAVClient, *args: Any) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_sync(client, *args)

    with (
        patch.object(CalDAVClient, "sync", autospec=True, side_effect=flaky) as calls,
        patch("scheduling.caldav.breaker.time.sleep", autospec=True) as sleep,
    ):
        assert connection_sync(connection.pk, now=NOW).status == "synced"

    assert calls.call_count == 3
    assert [c.args[0] for c in sleep.call_args_list] == [1, 2]


def test_a_wrong_password_fails_at_once_without_retries(tmp_path: Any, db: Any, settings: Any) -> None:
    from tests.servers.radicale import run_radicale

    with run_radicale(tmp_path, users={USER: PASSWORD}) as server:
        url = server.make_calendar(username=USER, password=PASSWORD)
        t = helpers.tenant(today=NOW.date())
        conn = connection_for(resource_for_mediator(helpers.mediator(t)), server, url)
        conn.password_encrypted = secret_encrypt("changed-since")
        conn.save()
        with patch.object(CalDAVClient, "sync", autospec=True, side_effect=CalDAVClient.sync) as calls:
            outcome = connection_sync(conn.pk, now=NOW)

    assert (outcome.status, outcome.error, calls.call_count) == ("failed", "wrong username or app password", 1)


def test_a_sync_already_running_is_not_started_twice(connection: CalendarConnection) -> None:
    CalendarConnection.objects.filter(pk=connection.pk).update(sync_claimed_until=NOW + timedelta(minutes=5))

    assert connection_sync(connection.pk, now=NOW).status == "busy"
    assert connection_sync(connection.pk, now=NOW + timedelta(minutes=6)).status == "synced"


def test_a_calendar_becomes_stale_when_its_last_good_sync_is_too_old(
    connection: CalendarConnection, settings: Any
) -> None:
    assert stale_resource_ids(now=NOW) == {connection.resource_id}  # never synced yet
    connection_sync(connection.pk, now=NOW)
    connection.refresh_from_db()
    limit = timedelta(minutes=settings.CALDAV_STALE_AFTER_MINUTES)

    assert stale_resource_ids(now=NOW + limit) == set()
    assert not connection_is_stale(connection, now=NOW + limit)
    assert stale_resource_ids(now=NOW + limit + timedelta(minutes=1)) == {connection.resource_id}
    assert stale_resource_ids(now=NOW + 2 * limit, resource_ids=[connection.resource_id + 1]) == set()
    assert connection_is_stale(connection, now=NOW + limit + timedelta(minutes=1))


# End to end


def test_a_busy_event_in_the_mediators_calendar_removes_those_slots_after_one_sync(
    radicale_server: RadicaleServer,  # noqa: F811
    calendar_url: str,
    phone: caldav.Calendar,
    db: Any,
) -> None:
    now = utc(2026, 11, 27, 10)
    t = helpers.tenant(today=date(2026, 11, 27))
    mediator = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    query = SlotQuery(limit=5, before=utc(2026, 12, 5))
    before = case_slot_search(case=case, query=query, now=now).slots
    assert before[0].start == utc(2026, 12, 4, 9, 30)  # the first day after 5 working days' notice

    add(phone, event_ics("court@x", utc(2026, 12, 4, 8), minutes=9 * 60))
    connection = connection_for(resource_for_mediator(mediator), radicale_server, calendar_url)
    assert case_slot_search(case=case, query=query, now=now).slots[0].start == before[0].start  # not synced yet

    assert connection_sync(connection.pk, now=now).status == "synced"

    after = case_slot_search(case=case, query=query, now=now).slots
    assert after == []  # the whole of Friday 4 December is taken, and the search ends there
