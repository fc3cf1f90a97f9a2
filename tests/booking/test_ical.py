from __future__ import annotations

import dataclasses
import email
import email.policy
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from icalendar import Calendar, Component

from booking.ical import (
    PRODID,
    Attendee,
    MeetingInvite,
    Reply,
    build_cancel,
    build_for_caldav,
    build_publish,
    build_request,
    find_calendar_parts,
    parse_reply,
    replies_from_message,
)
from scheduling.caldav.client import CalDAVClient
from tests.servers.radicale import RadicaleServer, radicale_server  # noqa: F401

LONDON = ZoneInfo("Europe/London")
DTSTAMP = datetime(2026, 10, 20, 9, 30, tzinfo=UTC)
REPLIES = Path(__file__).parent / "replies"
UID = "meeting-7f3c2a@send-mediation.example"
CHILD_NAME = "Amelia Rose Clarke"

MEDIATOR = Attendee("mia@a.example.org", "Mia Mediator", "CHAIR")
PARENT = Attendee("sam.parent.family@gmail.com", "Sam Parent", "REQ-PARTICIPANT")
OFFICER = Attendee("lena.okafor@la-example.gov.uk", "Okafor, Lena", "REQ-PARTICIPANT")
SUPPORTER = Attendee("pat@advocacy.example.org", "Pat Supporter", "OPT-PARTICIPANT")


def make_invite(**changes: Any) -> MeetingInvite:
    values: dict[str, Any] = {
        "uid": UID,
        "sequence": 0,
        "start": datetime(2026, 11, 4, 10, tzinfo=LONDON),
        "end": datetime(2026, 11, 4, 12, tzinfo=LONDON),
        "location": "Room 1, Civic Centre, 1 High Street; step-free entrance",
        "description": "Please arrive 10 minutes early.\nQuestions: call 01632 960000 or reply to this email.",
        "organizer_email": "scheduling@provider.example",
        "organizer_name": "Alice Coordinator",
        "attendees": [MEDIATOR, PARENT, OFFICER, SUPPORTER],
        "url": "https://booking.example/m/abc123",
    }
    return MeetingInvite(**(values | changes))


def only_event(data: bytes | str) -> tuple[Calendar, Component]:
    cal = Calendar.from_ical(data)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return cal, events[0]


def attendee_emails(event: Component) -> list[str]:
    return [a.email for a in event.attendees]


# Requests


def test_it_has_everything_rfc5546_requires_of_a_request() -> None:
    cal, event = only_event(build_request(make_invite(sequence=3), dtstamp=DTSTAMP))

    assert (str(cal["METHOD"]), str(cal["PRODID"]), str(cal["VERSION"])) == ("REQUEST", PRODID, "2.0")
    for name in ("ORGANIZER", "ATTENDEE", "DTSTAMP", "DTSTART", "SEQUENCE", "SUMMARY", "UID"):
        assert name in event, name
    assert str(event["UID"]) == UID
    assert event.sequence == 3
    assert event["DTSTAMP"].dt == DTSTAMP
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event["DTEND"].params["TZID"] == "Europe/London"
    assert (event.start, event.end) == (make_invite().start, make_invite().end)
    assert (str(event["STATUS"]), str(event["TRANSP"])) == ("CONFIRMED", "OPAQUE")
    assert str(event["LOCATION"]) == make_invite().location
    assert str(event["DESCRIPTION"]) == make_invite().description
    assert str(event["URL"]) == "https://booking.example/m/abc123"


def test_it_names_the_organizer_and_every_attendee() -> None:
    _, event = only_event(build_request(make_invite(), dtstamp=DTSTAMP))

    assert (event.organizer.email, event.organizer.name) == ("scheduling@provider.example", "Alice Coordinator")
    rows = [(a.email, a.name, a.ROLE, a.PARTSTAT, a.RSVP, a.CUTYPE) for a in event.attendees]
    assert rows == [
        ("mia@a.example.org", "Mia Mediator", "CHAIR", "NEEDS-ACTION", True, "INDIVIDUAL"),
        ("sam.parent.family@gmail.com", "Sam Parent", "REQ-PARTICIPANT", "NEEDS-ACTION", True, "INDIVIDUAL"),
        ("lena.okafor@la-example.gov.uk", "Okafor, Lena", "REQ-PARTICIPANT", "NEEDS-ACTION", True, "INDIVIDUAL"),
        ("pat@advocacy.example.org", "Pat Supporter", "OPT-PARTICIPANT", "NEEDS-ACTION", True, "INDIVIDUAL"),
    ]


def test_it_reminds_a_day_before() -> None:
    _, event = only_event(build_request(make_invite(), dtstamp=DTSTAMP))

    [alarm] = event.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm["TRIGGER"].dt == timedelta(days=-1)
    assert str(alarm["DESCRIPTION"])


def test_it_writes_the_same_bytes_for_the_same_meeting() -> None:
    assert build_request(make_invite(), dtstamp=DTSTAMP) == build_request(make_invite(), dtstamp=DTSTAMP)


def test_it_writes_dtstamp_in_utc_whatever_zone_it_is_given_in() -> None:
    _, event = only_event(build_request(make_invite(), dtstamp=DTSTAMP.astimezone(LONDON)))

    assert event["DTSTAMP"].to_ical() == b"20261020T093000Z"


def test_it_refuses_a_cancelled_meeting() -> None:
    with pytest.raises(ValueError, match="build_cancel"):
        build_request(make_invite(cancelled=True), dtstamp=DTSTAMP)


def test_it_refuses_a_meeting_without_attendees() -> None:
    with pytest.raises(ValueError, match="attendee"):
        build_request(make_invite(attendees=[]), dtstamp=DTSTAMP)


# Cancels


def test_it_has_everything_rfc5546_requires_of_a_cancel() -> None:
    invite = make_invite(sequence=4, cancelled=True)
    cal, event = only_event(build_cancel(invite, dtstamp=DTSTAMP))

    assert str(cal["METHOD"]) == "CANCEL"
    for name in ("ORGANIZER", "ATTENDEE", "DTSTAMP", "SEQUENCE", "UID", "STATUS"):
        assert name in event, name
    assert str(event["STATUS"]) == "CANCELLED"
    assert (str(event["UID"]), event.sequence) == (UID, 4)
    assert attendee_emails(event) == [a.email for a in invite.attendees]
    assert event.walk("VALARM") == []


def test_it_cancels_for_removed_attendees_only_without_cancelling_the_meeting() -> None:
    # RFC 5546 section 3.2.5: uninviting some attendees MUST NOT carry STATUS:CANCELLED.
    invite = make_invite(sequence=2, attendees=[MEDIATOR, PARENT, OFFICER])
    cal, event = only_event(build_cancel(invite, dtstamp=DTSTAMP, attendees=[SUPPORTER]))

    assert str(cal["METHOD"]) == "CANCEL"
    assert attendee_emails(event) == ["pat@advocacy.example.org"]
    assert "STATUS" not in event
    for name in ("ORGANIZER", "DTSTAMP", "SEQUENCE", "UID"):
        assert name in event, name


# Time zones


def test_it_puts_one_small_vtimezone_before_the_event() -> None:
    cal = Calendar.from_ical(build_request(make_invite(), dtstamp=DTSTAMP))

    names = [component.name for component in cal.subcomponents]
    assert names == ["VTIMEZONE", "VEVENT"]
    assert cal.get_missing_tzids() == set()
    vtimezone = cal.subcomponents[0]
    assert str(vtimezone["TZID"]) == "Europe/London"
    assert len(vtimezone.to_ical()) < 600
    assert len(build_request(make_invite(), dtstamp=DTSTAMP)) < 2000


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [
        pytest.param(date(2026, 3, 28), 10, id="day-before-spring"),
        pytest.param(date(2026, 3, 29), 9, id="spring-forward-day"),
        pytest.param(date(2026, 10, 24), 9, id="day-before-autumn"),
        pytest.param(date(2026, 10, 25), 10, id="fall-back-day"),
    ],
)
def test_it_keeps_the_utc_instant_across_dst(day: date, utc_hour: int) -> None:
    local = datetime.combine(day, time(10), LONDON)
    invite = make_invite(start=local, end=local + timedelta(hours=2))
    utc = datetime.combine(day, time(utc_hour), UTC)

    for data in (build_request(invite, dtstamp=DTSTAMP), build_for_caldav(invite, dtstamp=DTSTAMP)):
        _, event = only_event(data)
        assert event.start.astimezone(UTC) == utc
        assert event.end.astimezone(UTC) == utc + timedelta(hours=2)


def test_a_meeting_in_the_hour_that_comes_twice_is_written_in_utc() -> None:
    """01:00-02:00 local happens twice on 25 October 2026; a TZID time would name the first (RFC 5545 3.3.5)."""
    start = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST: the first 01:30
    for begin, finish in [
        (start, start + timedelta(hours=1)),
        (start + timedelta(hours=1), start + timedelta(hours=2)),
    ]:
        data = build_request(make_invite(start=begin, end=finish), dtstamp=DTSTAMP).decode()
        _, event = only_event(data)
        assert "DTSTART:" in data and "DTSTART;TZID" not in data
        assert (event.start, event.end) == (begin, finish)
    ordinary = build_request(make_invite(), dtstamp=DTSTAMP).decode()
    assert "DTSTART;TZID=Europe/London:20261104T100000" in ordinary


def test_it_converts_a_start_given_in_another_zone_to_the_meeting_zone() -> None:
    start = datetime(2026, 3, 29, 9, tzinfo=UTC)
    _, event = only_event(build_request(make_invite(start=start, end=start + timedelta(hours=1)), dtstamp=DTSTAMP))

    assert event["DTSTART"].to_ical() == b"20260329T100000"
    assert event["DTSTART"].params["TZID"] == "Europe/London"


@pytest.mark.parametrize("tz", ["Europe/London", "America/New_York", "Australia/Sydney"])
def test_each_onset_is_the_real_transition_read_in_tzoffsetfrom(tz: str) -> None:
    # RFC 5545 section 3.6.5: a client that trusts the VTIMEZONE (Outlook) must find the real clock changes.
    zone = ZoneInfo(tz)
    start = datetime(2026, 6, 1, 10, tzinfo=zone)
    invite = make_invite(tz=tz, start=start, end=start.replace(year=2027) + timedelta(hours=1))
    cal = Calendar.from_ical(build_for_caldav(invite, dtstamp=DTSTAMP))

    transitions = 0
    for observance in cal.walk("VTIMEZONE")[0].subcomponents:
        before, after = observance["TZOFFSETFROM"].td, observance["TZOFFSETTO"].td
        for onset in _onsets(observance, until=2027):
            if before == after:
                continue
            instant = (onset - before).replace(tzinfo=UTC)
            assert (instant - timedelta(seconds=1)).astimezone(zone).utcoffset() == before, onset
            assert instant.astimezone(zone).utcoffset() == after, onset
            transitions += 1
    assert transitions == 6  # 2025 (the rules are in force before the first event), 2026 and 2027


def test_it_starts_british_summer_time_at_one_in_the_morning() -> None:
    cal = Calendar.from_ical(build_request(make_invite(), dtstamp=DTSTAMP))

    (daylight,) = cal.walk("DAYLIGHT")
    assert datetime.fromisoformat("2026-03-29T01:00") in _onsets(daylight, until=2026)
    assert daylight["DTSTART"].dt == datetime.fromisoformat("2025-03-30T01:00")  # in force before the event's year


def test_a_meeting_early_in_the_year_comes_after_the_zones_rules_begin() -> None:
    start = datetime(2027, 1, 15, 10, tzinfo=LONDON)
    cal = Calendar.from_ical(build_request(make_invite(start=start, end=start + timedelta(hours=2)), dtstamp=DTSTAMP))
    first = min(o["DTSTART"].dt for o in cal.walk("VTIMEZONE")[0].subcomponents)
    assert first <= start.replace(tzinfo=None)


# Feeds


def test_it_publishes_meetings_and_keeps_cancelled_ones_as_cancelled() -> None:
    later = datetime(2027, 1, 12, 14, tzinfo=LONDON)
    invites = [
        make_invite(),
        make_invite(uid="meeting-2@send-mediation.example", start=later, end=later + timedelta(hours=3), sequence=2),
        make_invite(uid="meeting-3@send-mediation.example", cancelled=True, sequence=1),
    ]
    cal = Calendar.from_ical(build_publish(invites, dtstamp=DTSTAMP, name="Mia Mediator: meetings"))

    assert str(cal["METHOD"]) == "PUBLISH"
    assert str(cal["X-WR-CALNAME"]) == "Mia Mediator: meetings"
    assert cal["REFRESH-INTERVAL"].params["VALUE"] == "DURATION"
    statuses = {str(e["UID"]): str(e["STATUS"]) for e in cal.walk("VEVENT")}
    assert statuses == {
        UID: "CONFIRMED",
        "meeting-2@send-mediation.example": "CONFIRMED",
        "meeting-3@send-mediation.example": "CANCELLED",
    }
    for event in cal.walk("VEVENT"):
        assert "ATTENDEE" not in event
        for name in ("DTSTAMP", "DTSTART", "ORGANIZER", "SUMMARY", "UID"):
            assert name in event, name
    assert cal.get_missing_tzids() == set()
    assert [c.name for c in cal.subcomponents][0] == "VTIMEZONE"


def test_an_empty_feed_is_still_a_calendar() -> None:
    cal = Calendar.from_ical(build_publish([], dtstamp=DTSTAMP, name="Nothing yet"))

    assert (str(cal["METHOD"]), cal.walk("VEVENT")) == ("PUBLISH", [])


# The CalDAV copy


def test_it_has_no_method_and_marks_the_event_as_ours() -> None:
    text = build_for_caldav(make_invite(sequence=5), dtstamp=DTSTAMP)
    cal, event = only_event(text)

    assert isinstance(text, str)
    assert "METHOD" not in cal
    assert str(event["X-SEND-MEDIATION-SOURCE"]) == "1"
    assert event.sequence == 5


def test_it_leaves_out_organizer_and_attendees_so_no_server_schedules_on_its_own() -> None:
    _, event = only_event(build_for_caldav(make_invite(), dtstamp=DTSTAMP))

    assert "ORGANIZER" not in event
    assert "ATTENDEE" not in event


# Privacy


def test_the_summary_is_neutral_and_no_child_name_appears_anywhere() -> None:
    # What the booking service knows about a case never reaches an invite: only these fields exist.
    invite = make_invite()
    outputs = [
        build_request(invite, dtstamp=DTSTAMP),
        build_cancel(dataclasses.replace(invite, cancelled=True), dtstamp=DTSTAMP),
        build_cancel(invite, dtstamp=DTSTAMP, attendees=[SUPPORTER]),
        build_publish([invite], dtstamp=DTSTAMP, name="Mia Mediator"),
        build_for_caldav(invite, dtstamp=DTSTAMP).encode(),
    ]
    for data in outputs:
        _, event = only_event(data)
        assert str(event["SUMMARY"]) == "Mediation meeting"
        unfolded = data.replace(b"\r\n ", b"")
        for word in CHILD_NAME.split():
            assert word.encode() not in unfolded


# Validation


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start": datetime.fromisoformat("2026-11-04T10:00")}, "timezone-aware"),
        ({"end": datetime(2026, 11, 4, 9, tzinfo=LONDON)}, "after start"),
        ({"sequence": -1}, "negative"),
        ({"tz": "Europe/Atlantis"}, "unknown time zone"),
    ],
)
def test_it_refuses_a_bad_invite(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_invite(**changes)


def test_it_refuses_an_unknown_role() -> None:
    with pytest.raises(ValueError, match="role"):
        Attendee("x@example.org", "X", "OBSERVER")


TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(str.strip)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@example(name="Jo \\ Smith\\", location="1 High St; Town, AB1 2CD", description='Line \\n one\nLine two: "quoted"')
@given(name=TEXT, location=TEXT, description=st.lists(TEXT, min_size=1, max_size=3).map("\n".join))
def test_text_survives_escaping_and_folding(name: str, location: str, description: str) -> None:
    invite = make_invite(
        attendees=[Attendee("x@example.org", name, "REQ-PARTICIPANT")], location=location, description=description
    )
    data = build_request(invite, dtstamp=DTSTAMP)
    _, event = only_event(data)

    assert all(len(line) <= 75 for line in data.split(b"\r\n"))
    cn = name.replace("\\", "/")  # see booking.ical._cn
    assert (event.attendees[0].name, str(event["LOCATION"]), str(event["DESCRIPTION"])) == (cn, location, description)


# Reply samples

APPLE_COMMENT = "I\u2019m on leave that week \u2014 please offer another date."
EXPECTED_REPLIES = {
    "outlook_accepted.eml": (
        ["REPLY"],
        Reply(
            UID, 2, "lena.okafor@la-example.gov.uk", "ACCEPTED", "I will bring the draft plan and the panel decision.",
            datetime(2026, 10, 28, 14, 15, 3, tzinfo=UTC),
        ),
    ),
    "gmail_accepted.eml": (
        ["REPLY", None],
        Reply(UID, 1, "sam.parent.family@gmail.com", "ACCEPTED", None, datetime(2026, 10, 29, 9, 2, 11, tzinfo=UTC)),
    ),
    "apple_declined.eml": (
        ["REPLY"],
        Reply(
            UID, 2, "hugo.health@icb.example.nhs.uk", "DECLINED", APPLE_COMMENT,
            datetime(2026, 10, 29, 11, 40, 27, tzinfo=UTC),
        ),
    ),
    "tentative_without_method.eml": (
        ["REPLY"],
        Reply(
            UID, 0, "pat@advocacy.example.org", "TENTATIVE", "Should be able to come, will confirm by Monday.",
            datetime(2026, 10, 30, 8, 0, tzinfo=UTC),
        ),
    ),
}  # fmt: skip


def load_message(name: str) -> email.message.EmailMessage:
    message = email.message_from_bytes((REPLIES / name).read_bytes(), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


# Reply messages


@pytest.mark.parametrize("name", sorted(EXPECTED_REPLIES))
def test_it_reads_the_answer_in_each_client_style(name: str) -> None:
    methods, expected = EXPECTED_REPLIES[name]
    message = load_message(name)

    parts = find_calendar_parts(message)
    assert [method for method, _ in parts] == methods
    assert replies_from_message(message) == [expected]


def test_all_sample_files_are_covered() -> None:
    assert sorted(p.name for p in REPLIES.glob("*.eml")) == sorted(EXPECTED_REPLIES)


def test_it_reads_the_gmail_attachment_on_its_own() -> None:
    parts = find_calendar_parts(load_message("gmail_accepted.eml"))
    attachment = [data for method, data in parts if method is None][0]

    assert [r.partstat for r in parse_reply(attachment)] == ["ACCEPTED"]


def test_a_message_without_a_calendar_has_no_parts() -> None:
    message = email.message.EmailMessage()
    message["Subject"] = "Re: Mediation meeting"
    message.set_content("Thanks, see you then.")

    assert find_calendar_parts(message) == []
    assert replies_from_message(message) == []


def test_a_calendar_part_in_another_charset_comes_back_as_utf8() -> None:
    text = reply_text(vevent("UID:a@x", "ATTENDEE;PARTSTAT=DECLINED:mailto:one@example.org", "COMMENT:Désolée"))
    message = email.message.EmailMessage()
    message.set_content(text.encode("iso-8859-1"), "text", "calendar", cte="quoted-printable")
    message.set_param("charset", "iso-8859-1")
    message.set_param("method", "Reply")

    [(method, data)] = find_calendar_parts(message)
    assert method == "REPLY"
    assert [r.comment for r in parse_reply(data)] == ["Désolée"]


def reply_text(*events: str, method: str | None = "REPLY") -> str:
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//EN"] + ([f"METHOD:{method}"] if method else [])
    return "\r\n".join([*head, *events, "END:VCALENDAR", ""])


def vevent(*lines: str) -> str:
    return "\r\n".join(["BEGIN:VEVENT", *lines, "END:VEVENT"])


# parse_reply


def test_it_reads_several_events() -> None:
    text = reply_text(
        vevent("UID:a@x", "SEQUENCE:1", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:one@example.org"),
        vevent("UID:b@x", "SEQUENCE:4", "ATTENDEE;PARTSTAT=DECLINED:MAILTO:Two@Example.org"),
    )

    assert [(r.uid, r.sequence, r.attendee_email, r.partstat) for r in parse_reply(text)] == [
        ("a@x", 1, "one@example.org", "ACCEPTED"),
        ("b@x", 4, "two@example.org", "DECLINED"),
    ]


def test_it_takes_the_method_from_the_mime_part_when_the_calendar_has_none() -> None:
    text = reply_text(vevent("UID:a@x", "ATTENDEE;PARTSTAT=TENTATIVE:mailto:one@example.org"), method=None)

    assert parse_reply(text) == []
    assert [r.partstat for r in parse_reply(text, method_hint="reply")] == ["TENTATIVE"]


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL", "COUNTER"])
def test_it_ignores_what_is_not_a_reply(method: str) -> None:
    text = reply_text(vevent("UID:a@x", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:one@example.org"), method=method)

    assert parse_reply(text, method_hint="REPLY") == []


def test_it_reads_an_unknown_partstat_as_needs_action() -> None:
    text = reply_text(vevent("UID:a@x", "ATTENDEE;PARTSTAT=X-MAYBE-LATER:mailto:one@example.org"))

    assert [r.partstat for r in parse_reply(text)] == ["NEEDS-ACTION"]


def test_it_finds_the_address_in_the_email_parameter_of_a_urn_attendee() -> None:
    text = reply_text(
        vevent("UID:a@x", 'ATTENDEE;EMAIL="One@Example.org";PARTSTAT=ACCEPTED:urn:uuid:1b2c3d4e-0000-4000-8000-1234')
    )

    assert [r.attendee_email for r in parse_reply(text)] == ["one@example.org"]


def test_it_skips_events_without_uid_and_attendees_without_address() -> None:
    text = reply_text(
        vevent("ATTENDEE;PARTSTAT=ACCEPTED:mailto:one@example.org"),
        vevent("UID:b@x", "ATTENDEE;PARTSTAT=ACCEPTED:urn:uuid:no-address"),
    )

    assert parse_reply(text) == []


def test_our_own_request_is_not_a_reply() -> None:
    assert parse_reply(build_request(make_invite(), dtstamp=DTSTAMP), method_hint="REPLY") == []


def test_it_reads_an_attendee_answer_to_our_request() -> None:
    data = build_request(make_invite(sequence=2), dtstamp=DTSTAMP).decode()
    answer = data.replace("METHOD:REQUEST", "METHOD:REPLY").replace("PARTSTAT=NEEDS-ACTION", "PARTSTAT=ACCEPTED")

    replies = parse_reply(answer)
    assert {(r.uid, r.sequence, r.partstat) for r in replies} == {(UID, 2, "ACCEPTED")}
    assert [r.attendee_email for r in replies] == [a.email for a in make_invite().attendees]


def test_it_refuses_what_is_not_icalendar() -> None:
    with pytest.raises(ValueError, match="iCalendar"):
        parse_reply(b"<html>not a calendar</html>")


# Replayed into a real CalDAV server


def deliver(client: CalDAVClient, calendar_url: str, message: bytes) -> None:
    """What an attendee's calendar app does with an iTIP message: keep the newest copy of each UID."""
    cal = Calendar.from_ical(message)
    incoming = cal.walk("VEVENT")[0]
    stored = {
        str(e["UID"]): e.sequence
        for _, text in client.sync(calendar_url, None).changed.values()
        for e in Calendar.from_ical(text).walk("VEVENT")
    }
    if stored.get(str(incoming["UID"]), -1) > incoming.sequence:
        return
    del cal["METHOD"]  # RFC 4791 section 4.1: a stored calendar object has no METHOD
    client.put_event(calendar_url, str(incoming["UID"]), cal.to_ical().decode(), etag=None)


def test_request_reschedule_and_cancel_leave_one_event_on_a_caldav_server(
    radicale_server: RadicaleServer,  # noqa: F811
) -> None:
    calendar_url = radicale_server.make_calendar(username="sam")
    moved = datetime(2026, 11, 11, 14, tzinfo=LONDON)
    first = make_invite()
    rescheduled = dataclasses.replace(first, sequence=1, start=moved, end=moved + timedelta(hours=2))
    cancelled = dataclasses.replace(rescheduled, sequence=2, cancelled=True)

    with CalDAVClient(radicale_server.url, "sam", "app-password") as client:
        deliver(client, calendar_url, build_request(first, dtstamp=DTSTAMP))
        deliver(client, calendar_url, build_request(rescheduled, dtstamp=DTSTAMP + timedelta(days=1)))
        deliver(client, calendar_url, build_cancel(cancelled, dtstamp=DTSTAMP + timedelta(days=2)))
        deliver(client, calendar_url, build_request(first, dtstamp=DTSTAMP))  # a late duplicate of the first send
        stored = client.sync(calendar_url, None).changed

    assert len(stored) == 1
    [(_, text)] = stored.values()
    _, event = only_event(text)
    assert (str(event["UID"]), event.sequence, str(event["STATUS"])) == (UID, 2, "CANCELLED")
    assert event.start == moved


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _onsets(observance: Any, *, until: int) -> list[datetime]:
    """Every onset of a VTIMEZONE observance up to the end of the year `until` (local times, as a VTIMEZONE writes
    them): its DTSTART, its RDATEs and what its RRULE repeats."""
    from dateutil.rrule import rrulestr

    start = observance["DTSTART"].dt
    rdates = [d.dt for rdate in _listed(observance.get("RDATE")) for d in rdate.dts]
    rule = observance.get("RRULE")
    end = start.replace(year=until, month=12, day=31)
    repeated = list(rrulestr(rule.to_ical().decode(), dtstart=start).between(start, end, inc=True)) if rule else []
    return sorted({start, *rdates, *repeated})


def test_the_feed_years_cover_every_meeting() -> None:
    starts = [datetime(2026, 12, 30, 10, tzinfo=LONDON), datetime(2028, 1, 3, 10, tzinfo=LONDON)]
    invites = [make_invite(uid=f"m{i}@x", start=s, end=s + timedelta(hours=1)) for i, s in enumerate(starts)]
    cal = Calendar.from_ical(build_publish(invites, dtstamp=DTSTAMP, name="Feed"))

    onsets = sorted(
        onset.date()
        for observance in cal.walk("VTIMEZONE")[0].subcomponents
        for onset in _onsets(observance, until=2028)
    )
    assert onsets[0] <= date(2026, 1, 1)
    assert date(2027, 3, 28) in onsets and date(2027, 10, 31) in onsets
    assert onsets[-1] == date(2028, 10, 29)


def test_a_zone_with_yearly_changes_is_written_with_yearly_rules() -> None:
    """As Outlook writes and reads them: one DAYLIGHT and one STANDARD, each with an RRULE, no RDATE lists."""
    data = build_request(make_invite(), dtstamp=DTSTAMP).decode()
    vtimezone = data.split("BEGIN:VTIMEZONE")[1].split("END:VTIMEZONE")[0]
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in vtimezone
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10" in vtimezone
    assert "RDATE" not in vtimezone and vtimezone.count("BEGIN:STANDARD") == 1


def test_a_zone_whose_changes_follow_no_yearly_rule_has_each_change_written_out() -> None:
    zone = ZoneInfo("Africa/Casablanca")  # the clocks stop for Ramadan, which moves through the year
    start = datetime(2026, 6, 1, 10, tzinfo=zone)
    cal = Calendar.from_ical(
        build_request(make_invite(tz="Africa/Casablanca", start=start, end=start + timedelta(hours=1)), dtstamp=DTSTAMP)
    )
    assert cal.get_missing_tzids() == set() and "RRULE" not in cal.walk("VTIMEZONE")[0].to_ical().decode()
    _, event = only_event(cal.to_ical())
    assert event.start.astimezone(UTC) == start.astimezone(UTC)
