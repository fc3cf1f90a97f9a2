"""The calendar (CalDAV) server down while meetings are booked, moved and cancelled: the booking never waits for it,
each failed write is recorded and found again by the sweep, and once the server is back the mediator's calendar holds
exactly the right event.

Real Radicale, stopped and started on the same port with the same storage. The sweeps run in this process, as beat's
periodic tasks would run them (calendar_push_due then meeting_push; calendars_sync_due then connection_sync).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import caldav
import pytest

from booking.meetings import meeting_book, meeting_cancel, meeting_reschedule
from scheduling.caldav.push import calendar_push_due, meeting_push
from scheduling.caldav.sync import calendars_sync_due, connection_sync
from scheduling.models import BusyBlock, CalendarConnection, CalendarEvent
from scheduling.occupancy import resource_for_mediator
from tests.booking import helpers
from tests.scheduling.test_calendar_push import stored
from tests.scheduling.test_calendar_sync import (  # noqa: F401
    calendar_url,
    connection_for,
    event_ics,
    phone,
    quick_retries,
)
from tests.servers.radicale import RadicaleServer, radicale_server  # noqa: F401

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)
START = datetime(2026, 12, 8, 10, tzinfo=UTC)


@pytest.fixture
def mediator_calendar(radicale_server: RadicaleServer, calendar_url: str) -> dict[str, Any]:  # noqa: F811
    t = helpers.tenant(today=NOW.date())
    mediator = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    connection = connection_for(resource_for_mediator(mediator), radicale_server, calendar_url)
    return {"t": t, "mediator": mediator, "case": case, "connection": connection, "server": radicale_server}


def sweep(now: datetime) -> dict[str, Any]:
    """One round of the periodic calendar jobs: sync what is due, then push what some calendar lags behind."""
    synced = [connection_sync(pk, now=now).status for pk in calendars_sync_due(now=now)]
    pushed = [vars(meeting_push(pk, now=now)) for pk in calendar_push_due(now=now)]
    return {"synced": synced, "pushed": pushed}


def pushed(outcome: str, count: int = 1) -> list[dict[str, int]]:
    return [{"written": 0, "deleted": 0, "unchanged": 0, "waiting": 0, "failed": 0, outcome: count}]


def test_a_meeting_booked_while_the_server_is_down_lands_once_when_it_is_back(
    mediator_calendar: dict[str, Any],
    phone: caldav.Calendar,  # noqa: F811
    settings: Any,
) -> None:
    server, connection = mediator_calendar["server"], mediator_calendar["connection"]
    phone.add_event(event_ics("dentist@phone", START + timedelta(days=1)), increase_seqno=False)
    server.stop()

    started = time.monotonic()
    meeting = meeting_book(
        case=mediator_calendar["case"], actor=mediator_calendar["t"]["coordinator"], start=START,
        end=START + timedelta(hours=3), mediator=mediator_calendar["mediator"], room=None, mode="online", now=NOW,
    )  # fmt: skip
    assert time.monotonic() - started < 2  # the booking never called the calendar server

    # Each sweep tries, fails, records why and leaves the meeting due. The third failed sync opens the breaker, so
    # that sweep's push already waits instead of calling the server.
    moments = [NOW + timedelta(minutes=15 * n) for n in range(3)]
    assert [sweep(m) for m in moments] == [
        {"synced": ["failed"], "pushed": pushed("failed")},
        {"synced": ["failed"], "pushed": pushed("failed")},
        {"synced": ["failed"], "pushed": pushed("waiting")},
    ]
    row = CalendarEvent.objects.get(meeting=meeting)
    assert row.sequence == -1 and "cannot connect" in row.last_error
    connection.refresh_from_db()
    assert connection.breaker_open_until == moments[-1] + timedelta(minutes=settings.CALDAV_BREAKER_COOLDOWN_MINUTES)
    # While the breaker is open nothing calls the server; the meeting stays due.
    assert sweep(moments[-1] + timedelta(minutes=15)) == {"synced": [], "pushed": pushed("waiting")}

    server.start()
    after = connection.breaker_open_until + timedelta(seconds=1)
    assert sweep(after) == {"synced": ["synced"], "pushed": pushed("written")}

    events = {str(e["UID"]): e for e in stored(phone)}
    assert sorted(events) == sorted(["dentist@phone", meeting.uid])  # one event for the meeting, none twice
    assert (events[meeting.uid].sequence, events[meeting.uid].start) == (0, START)
    assert calendar_push_due(now=after) == []
    assert sweep(after + timedelta(minutes=15)) == {"synced": ["synced"], "pushed": []}
    assert BusyBlock.objects.filter(resource_id=connection.resource_id).count() == 1  # the dentist, not our meeting
    row.refresh_from_db()
    assert (row.sequence, row.last_error) == (0, "")


def test_a_meeting_moved_then_cancelled_while_the_server_is_down_ends_right_when_it_is_back(
    mediator_calendar: dict[str, Any],
    phone: caldav.Calendar,  # noqa: F811
) -> None:
    server, coordinator = mediator_calendar["server"], mediator_calendar["t"]["coordinator"]
    CalendarConnection.objects.update(last_sync_at=NOW + timedelta(days=30))  # only pushes in this test
    meeting = meeting_book(
        case=mediator_calendar["case"], actor=coordinator, start=START, end=START + timedelta(hours=3),
        mediator=mediator_calendar["mediator"], room=None, mode="online", now=NOW,
    )  # fmt: skip
    assert sweep(NOW)["pushed"] == pushed("written")

    server.stop()
    moved = START + timedelta(days=1)
    meeting = meeting_reschedule(
        meeting=meeting, actor=coordinator, start=moved, end=moved + timedelta(hours=3), room=None, mode="online",
        now=NOW,
    )  # fmt: skip
    assert sweep(NOW)["pushed"] == pushed("failed")
    server.start()
    [event] = stored(phone)
    assert (event.sequence, event.start) == (0, START)  # the old time is still there until the sweep runs
    assert sweep(NOW + timedelta(minutes=5))["pushed"] == pushed("written")
    [event] = stored(phone)
    assert (event.sequence, event.start) == (1, moved)

    server.stop()
    meeting_cancel(meeting=meeting, actor=coordinator, cancelled_by="provider", reason="mediator ill", now=NOW)
    assert sweep(NOW + timedelta(minutes=10))["pushed"] == pushed("failed")
    server.start()
    assert sweep(NOW + timedelta(minutes=15))["pushed"] == pushed("deleted")
    assert stored(phone) == []
    assert calendar_push_due(now=NOW + timedelta(minutes=15)) == []
