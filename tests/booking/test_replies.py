"""Attendees' answers: by the signed links in their emails, and by iTIP REPLY emails from real calendar clients."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from icalendar import Calendar
from rest_framework.test import APIClient

from booking.links import answer_token, answer_url
from booking.models import CalendarFeed, MeetingAttendee, Participant
from notifications.models import Message
from tests.booking import helpers

pytestmark = pytest.mark.django_db
REPLIES = Path(__file__).parent / "replies"
NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)
UID = "meeting-7f3c2a@send-mediation.example"


@pytest.fixture
def meeting(settings: Any) -> Any:
    """A meeting at SEQUENCE 2 whose attendees are the senders of the sample replies."""
    from booking.meetings import meeting_book, meeting_reschedule

    settings.INBOUND_EMAIL_SECRET = "inbound-secret-for-tests"
    t = helpers.tenant(today=date(2026, 11, 27))
    t["provider"].scheduling_email = "scheduling@provider.example"
    t["provider"].save()
    m = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20), officer=False)
    case.participants.all().delete()
    for role, name, address in [
        ("parent", "Sam Parent", "sam.parent.family@gmail.com"),
        ("la_officer", "Lena Okafor", "Lena.Okafor@LA-Example.gov.uk"),
        ("health_representative", "Hugo Health", "hugo.health@icb.example.nhs.uk"),
        ("supporter", "Pat Supporter", "pat@advocacy.example.org"),
    ]:
        Participant.objects.create(case=case, role=role, name=name, email=address)
    start = datetime(2026, 12, 8, 10, tzinfo=UTC)
    booked = meeting_book(
        case=case,
        actor=None,
        start=start,
        end=start + timedelta(hours=3),
        mediator=m,
        room=None,
        mode="online",
        now=NOW,
    )
    booked.uid = UID
    booked.save()
    for day in (9, 10):
        booked = meeting_reschedule(
            meeting=booked,
            actor=None,
            start=start.replace(day=day),
            end=start.replace(day=day) + timedelta(hours=3),
            room=None,
            mode="online",
            now=NOW,
        )
    assert booked.sequence == 2
    return booked


def _post(raw: bytes, secret: str = "inbound-secret-for-tests") -> Any:
    return APIClient().post(
        "/api/inbound-email/", raw, content_type="message/rfc822", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )


def _partstat(meeting: Any, email: str) -> str:
    return MeetingAttendee.objects.get(meeting=meeting, email__iexact=email).partstat


def test_outlook_and_apple_replies_are_applied(meeting: Any) -> None:
    outlook = _post((REPLIES / "outlook_accepted.eml").read_bytes())
    assert outlook.status_code == 200 and outlook.json() == {"applied": 1, "stale": 0, "unmatched": 0}
    assert _partstat(meeting, "lena.okafor@la-example.gov.uk") == "ACCEPTED"
    apple = _post((REPLIES / "apple_declined.eml").read_bytes())
    assert apple.json()["applied"] == 1
    assert _partstat(meeting, "hugo.health@icb.example.nhs.uk") == "DECLINED"
    # A decline tells the coordinator.
    assert any("cannot come" in m.context["problem"] for m in Message.objects.filter(kind="coordinator_alert"))


def test_a_reply_answers_for_its_sender_only(meeting: Any) -> None:
    """Every invitee knows the meeting's UID: a REPLY sent by one must not answer for another."""
    raw = (REPLIES / "apple_declined.eml").read_bytes()
    forged = raw.replace(b"From: Hugo Health <hugo.health@icb.example.nhs.uk>", b"From: <pat@advocacy.example.org>", 1)
    assert forged != raw
    assert _post(forged).json() == {"applied": 0, "stale": 0, "unmatched": 0}
    assert _partstat(meeting, "hugo.health@icb.example.nhs.uk") == "NEEDS-ACTION"
    unsigned = b"\n".join(line for line in raw.split(b"\n") if not line.startswith(b"From:"))
    assert b"From:" not in unsigned and _post(unsigned).json()["applied"] == 0
    assert _post(raw.replace(b"hugo.health@icb", b"HUGO.Health@ICB", 1)).json()["applied"] == 1  # case aside


def test_replies_to_an_older_sequence_are_ignored(meeting: Any) -> None:
    gmail = _post((REPLIES / "gmail_accepted.eml").read_bytes())  # SEQUENCE 1: the meeting has moved since
    assert gmail.json() == {"applied": 0, "stale": 1, "unmatched": 0}
    assert _partstat(meeting, "sam.parent.family@gmail.com") == "NEEDS-ACTION"


def test_a_reply_without_method_organizer_or_timezone_is_still_read(meeting: Any) -> None:
    raw = (REPLIES / "tentative_without_method.eml").read_bytes().replace(b"SEQUENCE", b"X-OLD-SEQUENCE")
    raw = raw.replace(b"UID:", b"SEQUENCE:2\r\nUID:", 1) if b"SEQUENCE:2" not in raw else raw
    assert _post(raw).json()["applied"] == 1
    assert _partstat(meeting, "pat@advocacy.example.org") == "TENTATIVE"


def test_the_inbound_endpoint_needs_the_secret_and_a_message(meeting: Any) -> None:
    raw = (REPLIES / "outlook_accepted.eml").read_bytes()
    assert _post(raw, secret="wrong").status_code == 403
    assert APIClient().post("/api/inbound-email/", raw, content_type="message/rfc822").status_code == 403
    assert _post(b"").status_code == 400
    assert _partstat(meeting, "lena.okafor@la-example.gov.uk") == "NEEDS-ACTION"


def test_the_management_command_applies_a_message_from_standard_input(meeting: Any, monkeypatch: Any) -> None:
    raw = (REPLIES / "apple_declined.eml").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out = io.StringIO()
    call_command("apply_reply", stdout=out)
    assert "applied 1" in out.getvalue()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
    with pytest.raises(CommandError):
        call_command("apply_reply")


def test_answer_links_show_a_page_on_get_and_answer_on_post(meeting: Any, client: Any) -> None:
    attendee = MeetingAttendee.objects.get(meeting=meeting, email="sam.parent.family@gmail.com")
    url = answer_url(attendee, "accept").split("://", 1)[1].split("/", 1)[1]
    page = client.get(f"/{url}")
    assert page.status_code == 200 and b"I can come" in page.content
    attendee.refresh_from_db()
    assert attendee.partstat == "NEEDS-ACTION"  # a GET (a mail scanner) changes nothing
    assert client.post(f"/{url}", {"answer": "accept"}).status_code == 200
    attendee.refresh_from_db()
    assert attendee.partstat == "ACCEPTED" and attendee.reply_sequence == 2
    another = client.post(f"/respond/{answer_token(attendee)}/", {"answer": "another-time"})
    assert another.status_code == 200
    attendee.refresh_from_db()
    assert attendee.wants_another_time
    assert client.get("/respond/forged-token/").status_code == 404
    short = client.get(f"/m/{attendee.token}/")
    assert short.status_code == 302 and short["Location"] == f"/respond/{answer_token(attendee)}/"


def test_people_joining_or_leaving_the_case_are_invited_or_uninvited_at_once(meeting: Any, client: Any) -> None:
    from booking.services import participant_create, participant_delete

    jo = participant_create(
        case=meeting.case, actor=None, role="supporter", name="Jo Friend", email="jo@example.org", required=False
    )
    to_jo = Message.objects.filter(to="jo@example.org")
    assert set(to_jo.values_list("kind", "calendar_method")) >= {("invitation", "REQUEST"), ("reminder", "")}
    assert MeetingAttendee.objects.get(meeting=meeting, participant=jo).active
    pat = MeetingAttendee.objects.get(meeting=meeting, email="pat@advocacy.example.org")
    link = f"/respond/{answer_token(pat)}/"
    assert client.get(link).status_code == 200
    participant_delete(participant=Participant.objects.get(pk=pat.participant_id), actor=None)
    pat.refresh_from_db()
    assert not pat.active
    to_pat = Message.objects.filter(to="pat@advocacy.example.org")
    assert to_pat.filter(kind="cancellation", calendar_method="CANCEL", status="pending").count() == 1
    assert not to_pat.filter(kind="reminder", status="pending").exists()
    assert client.get(link).status_code == 404  # the link showed the time and place: it goes with them
    assert client.post(link, {"answer": "decline"}).status_code == 404
    assert client.get(f"/m/{pat.token}/").status_code == 404


def test_the_answer_page_shows_uk_time(meeting: Any, client: Any) -> None:
    from booking.meetings import meeting_reschedule

    summer = datetime(2027, 6, 15, 9, tzinfo=UTC)  # 10:00 British Summer Time
    meeting_reschedule(
        meeting=meeting, actor=None, start=summer, end=summer + timedelta(hours=3), room=None, mode="online", now=NOW
    )
    attendee = MeetingAttendee.objects.get(meeting=meeting, email="sam.parent.family@gmail.com")
    page = client.get(f"/respond/{answer_token(attendee)}/").content.decode()
    assert "Tuesday 15 June 2027" in page and "10:00 to 13:00" in page


def test_moving_the_meeting_asks_everyone_again(meeting: Any) -> None:
    from booking.answers import attendee_answer
    from booking.meetings import meeting_reschedule

    attendee = MeetingAttendee.objects.get(meeting=meeting, email="sam.parent.family@gmail.com")
    attendee_answer(attendee=attendee, answer="accept", sequence=meeting.sequence, now=NOW)
    other = MeetingAttendee.objects.get(meeting=meeting, email="pat@advocacy.example.org")
    attendee_answer(attendee=other, answer="another-time", sequence=meeting.sequence, now=NOW)
    later = meeting.start + timedelta(days=1)
    meeting_reschedule(
        meeting=meeting, actor=None, start=later, end=later + timedelta(hours=3), room=None, mode="online", now=NOW
    )
    answers = set(MeetingAttendee.objects.filter(meeting=meeting).values_list("partstat", "wants_another_time"))
    assert answers == {("NEEDS-ACTION", False)}  # RFC 6638 3.2.8: the answers were to the old time


def test_the_ics_download_and_the_mediator_feed(meeting: Any) -> None:
    coordinator = meeting.case.created_by
    staff = APIClient()
    staff.force_authenticate(coordinator)
    download = staff.get(f"/api/meetings/{meeting.pk}/invite.ics")
    assert download.status_code == 200 and download["Content-Type"].startswith("text/calendar")
    event = Calendar.from_ical(download.content).events[0]
    assert str(event["UID"]) == UID and event.sequence == 2
    made = staff.post(f"/api/mediators/{meeting.mediator_id}/calendar-feed/")
    assert made.status_code == 201
    path = made.json()["url"].split("://", 1)[1].split("/", 1)[1]
    feed = APIClient().get(f"/{path}")  # a calendar client: no login, the token is the key
    assert feed.status_code == 200
    assert [str(e["UID"]) for e in Calendar.from_ical(feed.content).events] == [UID]
    from booking.meetings import meeting_cancel

    meeting_cancel(meeting=meeting, actor=None, cancelled_by="provider", reason="x", now=NOW)
    cancelled = Calendar.from_ical(APIClient().get(f"/{path}").content).events[0]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert staff.delete(f"/api/mediators/{meeting.mediator_id}/calendar-feed/").status_code == 204
    assert APIClient().get(f"/{path}").status_code == 404
    assert not CalendarFeed.objects.filter(revoked_at__isnull=True).exists()


def test_the_stdin_command_refuses_garbage(meeting: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"Subject: hi\r\n\r\nno calendar here")))
    out = io.StringIO()
    call_command("apply_reply", stdout=out)
    assert "applied 0" in out.getvalue()
