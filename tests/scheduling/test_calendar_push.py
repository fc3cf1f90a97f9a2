"""Writing meetings into connected calendars (real Radicale): push, reschedule and cancel leave exactly one correct
event carrying our SEQUENCE; writes are conditional and happen once per change; nothing is sent from a request."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest.mock import patch

import caldav
import pytest
import time_machine
from django.core.management import call_command
from icalendar import Calendar

from booking.models import Meeting
from scheduling import tasks
from scheduling.caldav.client import CalDAVClient
from scheduling.caldav.push import calendar_meeting_changed, calendar_push_due, meeting_push
from scheduling.caldav.sync import connection_sync
from scheduling.models import BusyBlock, CalendarConnection, CalendarEvent, Occupancy
from scheduling.occupancy import resource_for_mediator, resource_for_user
from tests.booking import helpers
from tests.scheduling.test_calendar_sync import (  # noqa: F401
    NOW,
    PASSWORD,
    USER,
    calendar_url,
    connection_for,
    event_ics,
    phone,
    quick_retries,
)
from tests.servers.radicale import RadicaleServer, radicale_server  # noqa: F401

START = datetime(2026, 6, 15, 9, tzinfo=UTC)


@pytest.fixture
def setup(db: Any, radicale_server: RadicaleServer, calendar_url: str) -> dict[str, Any]:  # noqa: F811
    t = helpers.tenant(today=date(2026, 6, 1))
    mediator = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 5, 28))
    resource = resource_for_mediator(mediator)
    meeting = Meeting.objects.create(
        case=case, uid="mediation-42@send.example", start=START, end=START + timedelta(hours=3), mode="online",
        mediator=mediator, notice_given_on=date(2026, 6, 1),
    )  # fmt: skip
    Occupancy.objects.create(resource=resource, start=START, end=meeting.end, kind="meeting", meeting=meeting)
    connection = connection_for(resource, radicale_server, calendar_url)
    return {"t": t, "meeting": meeting, "connection": connection, "server": radicale_server}


def stored(calendar: caldav.Calendar) -> list[Any]:
    return [Calendar.from_ical(e.data).walk("VEVENT")[0] for e in calendar.get_events()]


def reschedule(meeting: Meeting, start: datetime) -> None:
    meeting.start, meeting.end, meeting.sequence = start, start + timedelta(hours=3), meeting.sequence + 1
    meeting.save()
    Occupancy.objects.filter(meeting=meeting).update(start=meeting.start, end=meeting.end)


def cancel(meeting: Meeting) -> None:
    meeting.status, meeting.sequence = Meeting.Status.CANCELLED, meeting.sequence + 1
    meeting.save()
    Occupancy.objects.filter(meeting=meeting).update(active=False)


def test_push_reschedule_and_cancel_leave_exactly_one_correct_event(setup: dict[str, Any], phone: Any) -> None:  # noqa: F811
    meeting = setup["meeting"]

    assert vars(meeting_push(meeting.pk, now=NOW))["written"] == 1
    [event] = stored(phone)
    assert (str(event["UID"]), event.sequence, event.start, str(event["X-SEND-MEDIATION-SOURCE"])) == (
        meeting.uid, 0, START, "1",
    )  # fmt: skip
    assert str(event["SUMMARY"]) == "Mediation meeting" and "Parent" not in event.to_ical().decode()
    row = CalendarEvent.objects.get()
    assert (row.sequence, row.deleted, bool(row.etag)) == (0, False, True)

    with patch.object(CalDAVClient, "put_event", autospec=True) as put:
        assert meeting_push(meeting.pk, now=NOW).unchanged == 1  # pushed already: no call at all
    assert put.call_count == 0

    moved = datetime(2026, 6, 17, 13, tzinfo=UTC)
    reschedule(meeting, moved)
    assert meeting_push(meeting.pk, now=NOW).written == 1
    [event] = stored(phone)
    assert (event.sequence, event.start, event.end) == (1, moved, moved + timedelta(hours=3))

    cancel(meeting)
    assert meeting_push(meeting.pk, now=NOW).deleted == 1
    assert stored(phone) == []
    row.refresh_from_db()
    assert (row.deleted, row.sequence, row.etag) == (True, 2, "")
    assert meeting_push(meeting.pk, now=NOW).unchanged == 1


def test_our_own_meeting_is_not_imported_back_as_busy_time(setup: dict[str, Any]) -> None:
    meeting_push(setup["meeting"].pk, now=NOW)

    outcome = connection_sync(setup["connection"].pk, now=NOW)

    assert (outcome.status, outcome.changed, outcome.blocks) == ("synced", 1, 0)
    assert not BusyBlock.objects.exists()


def test_an_event_changed_on_the_phone_is_read_again_and_overwritten(setup: dict[str, Any], phone: Any) -> None:  # noqa: F811
    meeting = setup["meeting"]
    meeting_push(meeting.pk, now=NOW)
    on_phone = phone.get_event_by_uid(meeting.uid)
    on_phone.data = on_phone.data.replace("Mediation meeting", "Mediation (moved my notes)")
    on_phone.save(increase_seqno=False)  # new ETag on the server
    reschedule(meeting, datetime(2026, 6, 18, 9, tzinfo=UTC))

    with patch.object(CalDAVClient, "put_event", autospec=True, side_effect=CalDAVClient.put_event) as put:
        assert meeting_push(meeting.pk, now=NOW).written == 1

    assert put.call_count == 2  # If-Match failed, then the re-read ETag
    [event] = stored(phone)
    assert (event.sequence, event.start, str(event["SUMMARY"])) == (1, meeting.start, "Mediation meeting")


def test_a_newer_version_already_on_the_server_is_not_overwritten(setup: dict[str, Any], phone: Any) -> None:  # noqa: F811
    meeting = setup["meeting"]
    meeting_push(meeting.pk, now=NOW)
    reschedule(meeting, datetime(2026, 6, 18, 9, tzinfo=UTC))
    meeting_push(meeting.pk, now=NOW)
    # A slow worker still holding version 0 (and its ETag) arrives late.
    CalendarEvent.objects.update(sequence=-1, etag='"stale"')
    meeting.refresh_from_db()
    stale = Meeting.objects.get(pk=meeting.pk)
    stale.sequence, stale.start, stale.end = 0, START, START + timedelta(hours=3)

    with patch("scheduling.caldav.push.Meeting.objects.select_related") as load:
        load.return_value.get.return_value = stale
        meeting_push(meeting.pk, now=NOW)

    [event] = stored(phone)
    assert (event.sequence, event.start) == (1, datetime(2026, 6, 18, 9, tzinfo=UTC))


def test_staff_attendees_with_a_calendar_get_the_meeting_too(setup: dict[str, Any], phone: Any) -> None:  # noqa: F811
    meeting, server, t = setup["meeting"], setup["server"], setup["t"]
    officer = resource_for_user(t["officer"], t["la"])
    Occupancy.objects.create(resource=officer, start=meeting.start, end=meeting.end, kind="meeting", meeting=meeting)
    officer_calendar = server.make_calendar(username="olive", password=PASSWORD, cal_id="office")
    CalendarConnection.objects.create(
        resource=officer, server_url=server.url, username="olive", calendar_url=officer_calendar,
        password_encrypted=setup["connection"].password_encrypted,
    )  # fmt: skip

    assert meeting_push(meeting.pk, now=NOW).written == 2

    with caldav.DAVClient(url=server.url, username="olive", password=PASSWORD, enable_rfc6764=False) as dav:
        assert [str(e["UID"]) for e in stored(dav.calendar(url=officer_calendar))] == [meeting.uid]
    assert [str(e["UID"]) for e in stored(phone)] == [meeting.uid]


def test_push_disabled_means_nothing_is_written(setup: dict[str, Any], phone: Any) -> None:  # noqa: F811
    CalendarConnection.objects.update(push_enabled=False)

    assert vars(meeting_push(setup["meeting"].pk, now=NOW)) == vars(type(meeting_push(setup["meeting"].pk, now=NOW))())
    assert stored(phone) == []
    assert calendar_push_due(now=NOW) == []


def test_the_sweep_finds_meetings_a_calendar_lags_behind(setup: dict[str, Any]) -> None:
    meeting, connection = setup["meeting"], setup["connection"]
    assert calendar_push_due(now=NOW) == [meeting.pk]  # never written

    meeting_push(meeting.pk, now=NOW)
    assert calendar_push_due(now=NOW) == []

    reschedule(meeting, datetime(2026, 6, 18, 9, tzinfo=UTC))
    assert calendar_push_due(now=NOW) == [meeting.pk]

    CalendarConnection.objects.filter(pk=connection.pk).update(breaker_open_until=NOW + timedelta(minutes=5))
    assert meeting_push(meeting.pk, now=NOW).waiting == 1  # no call while the breaker is open
    assert calendar_push_due(now=NOW) == [meeting.pk]
    assert meeting_push(meeting.pk, now=NOW + timedelta(minutes=6)).written == 1
    assert calendar_push_due(now=NOW) == []


def test_a_failed_push_is_recorded_and_left_for_the_sweep(setup: dict[str, Any]) -> None:
    setup["server"].stop()

    outcome = meeting_push(setup["meeting"].pk, now=NOW)

    assert outcome.failed == 1
    row = CalendarEvent.objects.get()
    assert (row.sequence, "cannot connect" in row.last_error) == (-1, True)
    assert calendar_push_due(now=NOW) == [setup["meeting"].pk]


# Queueing: never from the request, never failing a booking


def test_with_no_broker_a_meeting_change_queues_nothing(settings: Any) -> None:
    settings.CELERY_BROKER_URL = ""
    with patch.object(tasks.meeting_push_task, "apply_async", autospec=True) as queue:
        calendar_meeting_changed(7)
    assert queue.call_count == 0


def test_with_a_broker_a_meeting_change_is_queued_once_without_retrying(settings: Any) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"
    with patch.object(tasks.meeting_push_task, "apply_async", autospec=True) as queue:
        calendar_meeting_changed(7)
    assert queue.call_count == 1 and queue.call_args.args == ((7,),) and queue.call_args.kwargs["retry"] is False


def test_a_broker_outage_does_not_fail_the_booking(settings: Any) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    with patch.object(tasks.meeting_push_task, "apply_async", autospec=True, side_effect=ConnectionError("down")):
        calendar_meeting_changed(7)  # logged, not raised


# Tasks (eager) and the command


@time_machine.travel(NOW, tick=False)
def test_the_tasks_load_by_id_and_call_the_services(setup: dict[str, Any], phone: Any) -> None:  # noqa: F811
    meeting, connection = setup["meeting"], setup["connection"]
    phone.add_event(event_ics("dentist@x", datetime(2026, 12, 1, 9, tzinfo=UTC)), increase_seqno=False)

    assert tasks.calendar_push_due_task.delay().get() == 1
    assert tasks.meeting_push_task.delay(meeting.pk).get()["unchanged"] == 1
    assert tasks.calendars_sync_due_task.delay().get() == 1
    assert tasks.connection_sync_task.delay(connection.pk).get() == "synced"
    assert len(stored(phone)) == 2 and BusyBlock.objects.count() == 1


@time_machine.travel(NOW, tick=False)
def test_the_command_syncs_and_pushes(setup: dict[str, Any], capsys: Any) -> None:
    call_command("calendar_sync", "--connection", str(setup["connection"].pk))

    out = capsys.readouterr().out
    assert f"connection {setup['connection'].pk}: synced" in out
    assert f"meeting {setup['meeting'].pk}: " in out and "'written': 1" in out
    call_command("calendar_sync", "--all")
