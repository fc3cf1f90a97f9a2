"""CalDAVClient against a real Radicale server started by the tests."""

from __future__ import annotations

import dataclasses
import http.server
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import caldav
import pytest
from caldav.lib import error
from icalendar import Calendar

from booking.ical import MeetingInvite, build_for_caldav
from scheduling.caldav.busy import busy_intervals
from scheduling.caldav.client import CalDAVClient, CalDAVConflict, CalDAVError, CalendarInfo
from tests.servers.radicale import RadicaleServer, free_port, radicale_server, run_radicale  # noqa: F401

LONDON = ZoneInfo("Europe/London")
USER, PASSWORD = "mia", "app-password"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def event_ics(uid: str, start: datetime, *, minutes: int = 60, summary: str = "Busy") -> str:
    stamp, end = f"{start:%Y%m%dT%H%M%SZ}", f"{start + timedelta(minutes=minutes):%Y%m%dT%H%M%SZ}"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Phone//EN", "BEGIN:VEVENT", f"UID:{uid}"]
    lines += [f"DTSTAMP:{stamp}", f"DTSTART:{stamp}", f"DTEND:{end}", f"SUMMARY:{summary}", "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR", ""])


@pytest.fixture
def calendar_url(radicale_server: RadicaleServer) -> str:  # noqa: F811
    return radicale_server.make_calendar(username=USER, password=PASSWORD)


@pytest.fixture
def client(radicale_server: RadicaleServer) -> Iterator[CalDAVClient]:  # noqa: F811
    with CalDAVClient(radicale_server.url, USER, PASSWORD) as caldav_client:
        yield caldav_client


@pytest.fixture
def phone(radicale_server: RadicaleServer, calendar_url: str) -> Iterator[caldav.Calendar]:  # noqa: F811
    """The mediator's own calendar app, writing to the same calendar."""
    with caldav.DAVClient(url=radicale_server.url, username=USER, password=PASSWORD, enable_rfc6764=False) as dav:
        yield dav.calendar(url=calendar_url)


def href(calendar_url: str, uid: str) -> str:
    return f"{urlsplit(calendar_url).path}{uid}.ics"


def uids(texts: Any) -> set[str]:
    return {str(e["UID"]) for _, text in texts for e in Calendar.from_ical(text).walk("VEVENT")}


def invite(**changes: Any) -> MeetingInvite:
    start = datetime(2026, 6, 10, 14, tzinfo=LONDON)
    values: dict[str, Any] = {
        "uid": "meeting-1@send-mediation.example", "sequence": 0, "start": start, "end": start + timedelta(hours=2),
        "location": "Room 1, Civic Centre", "description": "Practical details", "organizer_email": "s@provider.example",
        "organizer_name": "Alice Coordinator",
    }  # fmt: skip
    return MeetingInvite(**(values | changes))


# Connecting


def test_it_lists_the_calendars(client: CalDAVClient, calendar_url: str) -> None:
    assert client.test_connection() == [CalendarInfo(calendar_url, "Work")]
    assert client.list_calendars() == [CalendarInfo(calendar_url, "Work")]


def test_a_wrong_password_is_a_permanent_auth_error(tmp_path: Path) -> None:
    with run_radicale(tmp_path, users={USER: PASSWORD}) as server:
        assert CalDAVClient(server.url, USER, PASSWORD).test_connection() == []
        with pytest.raises(CalDAVError) as failure:
            CalDAVClient(server.url, USER, "not-the-password").test_connection()

    assert (failure.value.kind, failure.value.permanent) == ("auth", True)
    assert str(failure.value) == "wrong username or app password"


def test_a_wrong_path_on_a_caldav_server_is_not_found(radicale_server: RadicaleServer) -> None:  # noqa: F811
    with pytest.raises(CalDAVError) as failure:
        CalDAVClient(radicale_server.url + "nobody/here/", USER, PASSWORD).test_connection()

    assert (failure.value.kind, failure.value.permanent) == ("not_found", True)
    assert str(failure.value) == "no CalDAV server at that address"


def test_a_plain_web_server_is_not_a_caldav_server(tmp_path: Path) -> None:
    handler = lambda *args: http.server.SimpleHTTPRequestHandler(*args, directory=str(tmp_path))  # noqa: E731
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=web.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        with pytest.raises(CalDAVError) as failure:
            CalDAVClient(f"http://127.0.0.1:{web.server_address[1]}/", USER, PASSWORD).test_connection()
    finally:
        web.shutdown()
        web.server_close()

    assert (failure.value.kind, failure.value.permanent) == ("not_found", True)
    assert str(failure.value).startswith("no CalDAV server at that address")


def test_nothing_listening_is_a_transient_unreachable_error() -> None:
    with pytest.raises(CalDAVError) as failure:
        CalDAVClient(f"http://127.0.0.1:{free_port()}/", USER, PASSWORD).test_connection()

    assert (failure.value.kind, failure.value.permanent) == ("unreachable", False)
    assert "connection refused" in str(failure.value)


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        with pytest.raises(CalDAVError) as failure:
            CalDAVClient(url, USER, PASSWORD, timeout=0.3).test_connection()

    assert (failure.value.kind, failure.value.permanent) == ("timeout", False)
    assert str(failure.value) == "timed out after 0.3 s"


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    # openssl ships with every machine this runs on; a missing one fails the test rather than skipping it.
    assert shutil.which("openssl"), "openssl is needed to make a test certificate"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_an_untrusted_certificate_is_a_permanent_tls_error(tmp_path: Path, self_signed: tuple[Path, Path]) -> None:
    with run_radicale(tmp_path, certificate=self_signed) as server:
        with pytest.raises(CalDAVError) as failure:
            CalDAVClient(server.url, USER, PASSWORD).test_connection()

    assert (failure.value.kind, failure.value.permanent) == ("tls", True)
    assert str(failure.value).startswith("TLS certificate problem")


def test_https_to_a_plain_http_port_is_a_tls_error(radicale_server: RadicaleServer) -> None:  # noqa: F811
    with pytest.raises(CalDAVError) as failure:
        CalDAVClient(radicale_server.url.replace("http:", "https:"), USER, PASSWORD).test_connection()

    assert (failure.value.kind, failure.value.permanent) == ("tls", True)


# Syncing


def test_the_first_sync_lists_every_event(client: CalDAVClient, phone: caldav.Calendar, calendar_url: str) -> None:
    phone.add_event(event_ics("dentist@example.org", utc(2026, 6, 10, 9)), increase_seqno=False)
    phone.add_event(event_ics("school-run@example.org", utc(2026, 6, 11, 8)), increase_seqno=False)

    result = client.sync(calendar_url, None)

    assert result.full
    assert result.token
    assert set(result.changed) == {
        href(calendar_url, "dentist@example.org"),
        href(calendar_url, "school-run@example.org"),
    }
    assert uids(result.changed.values()) == {"dentist@example.org", "school-run@example.org"}
    assert all(etag.startswith('"') for etag, _ in result.changed.values())
    assert result.changed == client.get_events(calendar_url, list(result.changed))
    assert {h: etag for h, (etag, _) in result.changed.items()} == client.list_etags(calendar_url)


def test_an_incremental_sync_reports_added_moved_and_deleted_events(
    client: CalDAVClient, phone: caldav.Calendar, calendar_url: str
) -> None:
    phone.add_event(event_ics("stays@example.org", utc(2026, 6, 10, 9)), increase_seqno=False)
    phone.add_event(event_ics("moves@example.org", utc(2026, 6, 10, 11)), increase_seqno=False)
    phone.add_event(event_ics("goes@example.org", utc(2026, 6, 10, 13)), increase_seqno=False)
    first = client.sync(calendar_url, None)

    phone.add_event(event_ics("new@example.org", utc(2026, 6, 12, 9)), increase_seqno=False)
    phone.add_event(event_ics("moves@example.org", utc(2026, 6, 11, 15)), increase_seqno=False)
    phone.get_event_by_uid("goes@example.org").delete()
    delta = client.sync(calendar_url, first.token)

    assert not delta.full
    assert delta.token not in (None, first.token)
    assert set(delta.changed) == {href(calendar_url, "new@example.org"), href(calendar_url, "moves@example.org")}
    assert delta.deleted == {href(calendar_url, "goes@example.org")}
    moved = Calendar.from_ical(delta.changed[href(calendar_url, "moves@example.org")][1]).walk("VEVENT")[0]
    assert moved.start == utc(2026, 6, 11, 15)


def test_a_sync_with_nothing_new_is_one_request_with_no_changes(client: CalDAVClient, phone: caldav.Calendar) -> None:
    calendar_url = str(phone.url)
    phone.add_event(event_ics("dentist@example.org", utc(2026, 6, 10, 9)), increase_seqno=False)
    first = client.sync(calendar_url, None)

    with patch.object(caldav.DAVClient, "request", autospec=True, side_effect=caldav.DAVClient.request) as spy:
        again = client.sync(calendar_url, first.token)

    assert (again.changed, again.deleted, again.full, again.token) == ({}, set(), False, first.token)
    assert spy.call_count == 1


def test_an_invalidated_token_falls_back_to_a_full_listing(
    radicale_server: RadicaleServer,  # noqa: F811
    client: CalDAVClient,
    phone: caldav.Calendar,
    calendar_url: str,
) -> None:
    phone.add_event(event_ics("dentist@example.org", utc(2026, 6, 10, 9)), increase_seqno=False)
    first = client.sync(calendar_url, None)
    # The server forgets its old tokens (Radicale expires them by age); the next change makes a new one.
    for folder in radicale_server.root.rglob("sync-token"):
        shutil.rmtree(folder)
    phone.add_event(event_ics("new@example.org", utc(2026, 6, 12, 9)), increase_seqno=False)

    result = client.sync(calendar_url, first.token)

    assert result.full
    assert uids(result.changed.values()) == {"dentist@example.org", "new@example.org"}
    assert client.sync(calendar_url, result.token).changed == {}


def test_a_malformed_token_falls_back_to_a_full_listing(client: CalDAVClient, phone: caldav.Calendar) -> None:
    phone.add_event(event_ics("dentist@example.org", utc(2026, 6, 10, 9)), increase_seqno=False)

    result = client.sync(str(phone.url), "http://radicale.org/ns/sync/not-a-token")

    assert result.full
    assert uids(result.changed.values()) == {"dentist@example.org"}


def test_a_server_without_sync_collection_gets_a_full_listing(client: CalDAVClient, phone: caldav.Calendar) -> None:
    phone.add_event(event_ics("dentist@example.org", utc(2026, 6, 10, 9)), increase_seqno=False)
    refused = error.ReportError(reason="501 Not Implemented", status=501)

    with patch.object(caldav.Calendar, "get_objects_by_sync_token", autospec=True, side_effect=refused) as report:
        result = client.sync(str(phone.url), "an-old-token")

    assert report.call_count == 2  # with the token, then without one
    assert (result.full, result.token) == (True, None)
    assert uids(result.changed.values()) == {"dentist@example.org"}


def test_a_server_stopped_in_the_middle_of_a_sync_fails_transiently_and_the_old_token_still_works(
    radicale_server: RadicaleServer,  # noqa: F811
    client: CalDAVClient,
    phone: caldav.Calendar,
    calendar_url: str,
) -> None:
    first = client.sync(calendar_url, None)
    phone.add_event(event_ics("new@example.org", utc(2026, 6, 12, 9)), increase_seqno=False)
    fetch = caldav.Calendar.multiget

    def stop_then_fetch(calendar: caldav.Calendar, *args: Any, **kwargs: Any) -> Any:
        radicale_server.stop()  # after the sync REPORT, before the events are fetched
        return fetch(calendar, *args, **kwargs)

    with patch.object(caldav.Calendar, "multiget", autospec=True, side_effect=stop_then_fetch):
        with pytest.raises(CalDAVError) as failure:
            client.sync(calendar_url, first.token)
    assert (failure.value.kind, failure.value.permanent) == ("unreachable", False)

    radicale_server.start()
    result = client.sync(calendar_url, first.token)

    assert not result.full
    assert set(result.changed) == {href(calendar_url, "new@example.org")}


def test_a_missing_calendar_is_not_found(radicale_server: RadicaleServer, client: CalDAVClient) -> None:  # noqa: F811
    with pytest.raises(CalDAVError) as failure:
        client.sync(radicale_server.url + f"{USER}/no-such-calendar/", None)

    assert (failure.value.kind, failure.value.permanent, str(failure.value)) == (
        "not_found", True, "no calendar at that address",
    )  # fmt: skip


def test_synced_events_become_busy_time_but_our_own_meetings_do_not(
    client: CalDAVClient, phone: caldav.Calendar, calendar_url: str
) -> None:
    phone.add_event(event_ics("dentist@example.org", utc(2026, 6, 10, 9)), increase_seqno=False)
    client.put_event(calendar_url, invite().uid, build_for_caldav(invite(), dtstamp=utc(2026, 6, 1)), etag=None)

    result = client.sync(calendar_url, None)
    window = {"window_start": utc(2026, 6, 1), "window_end": utc(2026, 7, 1)}
    busy = sorted(i for _, text in result.changed.values() for i in busy_intervals(text, **window))

    assert len(result.changed) == 2
    assert busy == [(utc(2026, 6, 10, 9), utc(2026, 6, 10, 10))]


# Pushing our meetings


def test_push_reschedule_and_cancel_leave_exactly_one_correct_event(client: CalDAVClient, calendar_url: str) -> None:
    first = invite()
    etag = client.put_event(calendar_url, first.uid, build_for_caldav(first, dtstamp=utc(2026, 6, 1)), etag=None)
    moved_start = datetime(2026, 6, 17, 10, tzinfo=LONDON)
    moved = dataclasses.replace(first, sequence=1, start=moved_start, end=moved_start + timedelta(hours=2))
    client.put_event(calendar_url, moved.uid, build_for_caldav(moved, dtstamp=utc(2026, 6, 2)), etag=etag)

    stored = client.sync(calendar_url, None).changed
    assert list(stored) == [href(calendar_url, first.uid)]
    event = Calendar.from_ical(next(iter(stored.values()))[1]).walk("VEVENT")[0]
    assert (event.sequence, event.start, str(event["X-SEND-MEDIATION-SOURCE"])) == (1, moved_start, "1")

    assert client.delete_event(calendar_url, first.uid) is True
    assert client.sync(calendar_url, None).changed == {}
    assert client.delete_event(calendar_url, first.uid) is False


def test_writing_over_a_changed_event_is_a_conflict(client: CalDAVClient, calendar_url: str) -> None:
    text = build_for_caldav(invite(), dtstamp=utc(2026, 6, 1))
    old_etag = client.put_event(calendar_url, invite().uid, text, etag=None)
    client.put_event(calendar_url, invite().uid, text.replace("Room 1", "Room 2"), etag=old_etag)

    with pytest.raises(CalDAVConflict) as failure:
        client.put_event(calendar_url, invite().uid, text, etag=old_etag)

    assert (failure.value.kind, failure.value.permanent) == ("protocol", False)
    [(_, stored)] = client.sync(calendar_url, None).changed.values()
    assert "Room 2" in stored


def test_an_event_stored_under_another_name_is_overwritten_in_place(
    client: CalDAVClient, phone: caldav.Calendar, calendar_url: str
) -> None:
    uid = invite().uid
    elsewhere = phone.url.join("imported-by-phone.ics")
    caldav.Event(phone.client, url=elsewhere, data=event_ics(uid, utc(2026, 6, 10, 9)), parent=phone).save(
        increase_seqno=False
    )

    client.put_event(calendar_url, uid, build_for_caldav(invite(sequence=3), dtstamp=utc(2026, 6, 1)), etag=None)

    stored = client.sync(calendar_url, None).changed
    assert list(stored) == [f"{urlsplit(calendar_url).path}imported-by-phone.ics"]
    assert Calendar.from_ical(next(iter(stored.values()))[1]).walk("VEVENT")[0].sequence == 3
    assert client.delete_event(calendar_url, uid) is True
    assert client.sync(calendar_url, None).changed == {}
