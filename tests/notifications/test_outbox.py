"""The outbox end to end: rows written with the change, sent once through real SMTP and the real twilio client
against local servers, re-checked before sending, retried, suppressed, and kept honest by signed webhooks."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from icalendar import Calendar
from twilio.request_validator import RequestValidator

from booking.meetings import meeting_book, meeting_cancel, meeting_reschedule
from booking.models import Meeting, Participant
from notifications.dispatch import claim_due, dispatch_due, reclaim_abandoned, run_once
from notifications.models import Message, SmsNumber
from notifications.sending import message_send
from tests.booking import helpers
from tests.servers.smtp import smtp_server  # noqa: F401
from tests.servers.twilio_fake import twilio_fake  # noqa: F401

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)
START = datetime(2026, 12, 8, 10, tzinfo=UTC)
SID, TOKEN = "AC" + "a" * 32, "test-auth-token"


@pytest.fixture
def servers(settings: Any, smtp_server: Any, twilio_fake: Any) -> tuple[Any, Any]:  # noqa: F811
    for key, value in smtp_server.django_settings().items():
        setattr(settings, key, value)
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = SID, TOKEN
    settings.TWILIO_FROM_NUMBER, settings.TWILIO_API_BASE_URL = "+447900000001", twilio_fake.url
    settings.SITE_URL = "https://mediation.example.org"
    return smtp_server, twilio_fake


def _booked(**case_fields: Any) -> Any:
    t = helpers.tenant(today=date(2026, 11, 27))
    t["provider"].scheduling_email = "scheduling@provider.example.org"
    t["provider"].save()
    m = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20), child_name="Ada Lovelace-Child", **case_fields)
    case.participants.filter(role="parent").update(mobile="+447911123456", preferred_channels=["email", "sms"])
    case.participants.filter(role="la_officer").update(email="olive@la.example.org")
    Participant.objects.create(case=case, role="mediator", name=m.name, email=m.email)
    with time_machine.travel(NOW, tick=False):
        meeting = meeting_book(
            case=case,
            actor=t["coordinator"],
            start=START,
            end=START + timedelta(hours=3),
            mediator=m,
            room=None,
            mode="online",
            now=NOW,
        )
    return meeting


def _send_all(now: datetime) -> list[str]:
    outcomes: list[str] = []
    dispatch_due(now=now, send=lambda pk: outcomes.append(message_send(pk, now=now)))
    return outcomes


def test_a_booking_writes_one_invitation_per_recipient_and_the_reminders() -> None:
    meeting = _booked()
    rows = Message.objects.filter(meeting=meeting)
    invitations = rows.filter(kind="invitation")
    assert sorted(invitations.values_list("channel", "to")) == [
        ("email", "mia@example.org"),
        ("email", "olive@la.example.org"),
        ("email", "sam@example.org"),
        ("sms", "+447911123456"),
    ]
    reminders = rows.filter(kind="reminder")
    # email 7 days and 1 day before to the three email recipients; SMS 1 day and 2 hours before to the parent.
    assert reminders.filter(channel="email").count() == 6
    assert sorted(r.due_at for r in reminders.filter(channel="sms")) == [
        START - timedelta(days=1),
        START - timedelta(hours=2),
    ]
    from notifications.services import meeting_confirmed

    before = rows.count()
    meeting_confirmed(meeting, now=NOW)  # a second write of the same messages is a no-op
    assert Message.objects.filter(meeting=meeting).count() == before


def test_invitations_arrive_once_each_with_a_calendar_and_no_child_details(servers: Any) -> None:
    smtp, twilio = servers
    meeting = _booked()
    assert sorted(_send_all(NOW)) == ["sent"] * 4
    assert _send_all(NOW) == []  # nothing due twice
    assert len(smtp.received) == 3 and len(twilio.messages) == 1
    for received in smtp.received:
        parsed = received.parsed()
        assert len(received.rcpt_tos) == 1 and "," not in parsed["To"]
        assert parsed["From"].addresses[0].addr_spec == "scheduling@provider.example.org"
        assert "Ada" not in parsed["Subject"] and "Lovelace" not in received.raw.decode(errors="ignore")
        alternative = next(p for p in parsed.walk() if p.get_content_type() == "multipart/alternative")
        types = [p.get_content_type() for p in alternative.iter_parts()]
        assert types == ["text/plain", "text/html", "text/calendar"]
        calendar_part = list(alternative.iter_parts())[2]
        assert calendar_part.get_param("method") == "REQUEST"
        cal = Calendar.from_ical(calendar_part.get_content())
        event = cal.events[0]
        assert str(cal["METHOD"]) == "REQUEST" and str(event["UID"]) == meeting.uid and event.sequence == 0
        assert str(event["SUMMARY"]) == "Mediation meeting"
        # each copy names its own recipient alone: no one is sent the others' names and addresses
        assert [a.email for a in event.attendees] == received.rcpt_tos
        attachments = [p.get_filename() for p in parsed.iter_attachments()]
        assert attachments == ["invite.ics"]
    sms = twilio.messages[0]
    assert sms.form["To"] == "+447911123456" and "Ada" not in sms.form["Body"]
    assert sms.form["StatusCallback"].startswith("https://mediation.example.org/webhooks/twilio/status/?m=")
    assert len(sms.form["Body"]) <= 160


def test_a_reschedule_replaces_reminders_and_sends_updates_with_a_higher_sequence(servers: Any) -> None:
    smtp, _ = servers
    meeting = _booked()
    _send_all(NOW)
    smtp.received.clear() if isinstance(smtp.received, list) else None
    old_reminders = list(Message.objects.filter(meeting=meeting, kind="reminder").values_list("pk", flat=True))
    with time_machine.travel(NOW, tick=False):
        meeting_reschedule(
            meeting=meeting,
            actor=None,
            start=START + timedelta(days=1),
            end=START + timedelta(days=1, hours=3),
            room=None,
            mode="online",
            now=NOW,
        )
    assert set(Message.objects.filter(pk__in=old_reminders).values_list("status", flat=True)) == {"cancelled"}
    updates = Message.objects.filter(meeting=meeting, kind="update", channel="email")
    assert updates.count() == 3 and set(updates.values_list("sequence", flat=True)) == {1}
    assert Message.objects.filter(meeting=meeting, kind="reminder", status="pending", sequence=1).count() == 8
    sent_before = len(smtp.received)
    _send_all(NOW)
    cals = [Calendar.from_ical(_calendar(r.raw)) for r in smtp.received[sent_before:]]
    assert {(c.events[0].sequence, str(c["METHOD"])) for c in cals} == {(1, "REQUEST")}
    assert {str(c.events[0]["UID"]) for c in cals} == {meeting.uid}


def _calendar(raw: bytes) -> bytes:
    parsed = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    part = next(p for p in parsed.walk() if p.get_content_type() == "text/calendar")
    return part.get_content().encode()


def test_a_cancellation_cancels_reminders_and_a_late_reminder_is_stopped_at_send_time(servers: Any) -> None:
    smtp, _ = servers
    meeting = _booked()
    _send_all(NOW)
    reminder = Message.objects.filter(meeting=meeting, kind="reminder", channel="email").first()
    with time_machine.travel(NOW, tick=False):
        meeting_cancel(meeting=meeting, actor=None, cancelled_by="provider", reason="mediator ill", now=NOW)
    assert not Message.objects.filter(meeting=meeting, kind="reminder", status="pending").exists()
    sent_before = len(smtp.received)
    _send_all(NOW)
    cancels = [Calendar.from_ical(_calendar(r.raw)) for r in smtp.received[sent_before:]]
    assert len(cancels) == 3
    assert all(str(c["METHOD"]) == "CANCEL" and str(c.events[0]["STATUS"]) == "CANCELLED" for c in cancels)
    assert all(c.events[0].sequence == 1 for c in cancels)
    # A reminder that somehow stayed pending is re-checked right before sending and never goes out.
    Message.objects.filter(pk=reminder.pk).update(status="pending", due_at=NOW)
    assert message_send(reminder.pk, now=NOW) == "cancelled"


def test_transient_twilio_errors_are_retried_with_backoff(servers: Any) -> None:
    _, twilio = servers
    _booked()
    twilio.fail_next(1, status=500)
    sms = Message.objects.get(kind="invitation", channel="sms")
    Message.objects.exclude(pk=sms.pk).update(status="cancelled")
    assert _send_all(NOW) == ["retry"]
    sms.refresh_from_db()
    assert sms.status == "pending" and sms.attempts == 1 and sms.due_at > NOW
    twilio.fail_next(1, status=429)
    assert _send_all(sms.due_at) == ["retry"]
    sms.refresh_from_db()
    later = sms.due_at
    assert _send_all(later) == ["sent"]
    assert len(twilio.messages) == 3  # two refused attempts, then the one Twilio accepted


def test_an_unsubscribed_number_is_suppressed_and_gets_email_instead(servers: Any) -> None:
    _, twilio = servers
    _booked()
    twilio.reject_next(1, code=21610)
    sms = Message.objects.get(kind="invitation", channel="sms")
    Message.objects.exclude(pk=sms.pk).update(status="cancelled")
    assert _send_all(NOW) == ["suppressed"]
    assert SmsNumber.objects.get(number="+447911123456").opted_out
    fallback = Message.objects.get(dedupe_key__endswith="email-fallback")
    assert fallback.channel == "email" and fallback.to == "sam@example.org"
    # Later SMS to that number are suppressed without calling Twilio.
    reminder = Message.objects.filter(kind="reminder", channel="sms").first()
    Message.objects.filter(pk=reminder.pk).update(status="pending", due_at=NOW)
    assert message_send(reminder.pk, now=NOW) == "suppressed"


def test_an_invalid_number_fails_and_tells_the_coordinator(servers: Any) -> None:
    _, twilio = servers
    _booked()
    twilio.reject_next(1, code=21211)
    sms = Message.objects.get(kind="invitation", channel="sms")
    Message.objects.exclude(pk=sms.pk).update(status="cancelled")
    assert _send_all(NOW) == ["failed"]
    assert SmsNumber.objects.get(number="+447911123456").invalid
    alert = Message.objects.get(kind="coordinator_alert")
    assert alert.to == "scheduling@provider.example.org"


def test_sms_in_quiet_hours_waits_until_8am_london(servers: Any) -> None:
    _, twilio = servers
    _booked()
    sms = Message.objects.get(kind="invitation", channel="sms")
    Message.objects.exclude(pk=sms.pk).update(status="cancelled")
    evening = datetime(2026, 11, 27, 21, 30, tzinfo=UTC)
    assert _send_all(evening) == ["deferred"]
    sms.refresh_from_db()
    assert sms.due_at == datetime(2026, 11, 28, 8, 0, tzinfo=UTC) and sms.attempts == 0
    assert twilio.messages == []


def _signed_post(client: Any, path: str, data: dict[str, str], *, token: str = TOKEN) -> Any:
    url = f"https://mediation.example.org{path}"
    signature = RequestValidator(token).compute_signature(url, data)
    return client.post(path, data, HTTP_X_TWILIO_SIGNATURE=signature, secure=True, HTTP_HOST="mediation.example.org")


def test_status_callbacks_are_signed_idempotent_and_never_go_backwards(
    servers: Any, client: Any, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["mediation.example.org"]
    _booked()
    sms = Message.objects.get(kind="invitation", channel="sms")
    Message.objects.exclude(pk=sms.pk).update(status="cancelled")
    _send_all(NOW)
    sms.refresh_from_db()
    path = f"/webhooks/twilio/status/?m={sms.callback_token}"
    forged = client.post(
        path,
        {"MessageStatus": "delivered"},
        HTTP_X_TWILIO_SIGNATURE="bad",
        secure=True,
        HTTP_HOST="mediation.example.org",
    )
    assert forged.status_code == 403
    sms.refresh_from_db()
    assert sms.status == "sent"
    assert _signed_post(client, path, {"MessageStatus": "delivered", "MessageSid": "SM1"}).status_code == 200
    assert _signed_post(client, path, {"MessageStatus": "delivered", "MessageSid": "SM1"}).status_code == 200
    assert _signed_post(client, path, {"MessageStatus": "sent", "MessageSid": "SM1"}).status_code == 200
    sms.refresh_from_db()
    assert sms.status == "delivered" and sms.delivered_at is not None
    unknown = _signed_post(client, "/webhooks/twilio/status/?m=nope", {"MessageStatus": "delivered"})
    assert unknown.status_code == 200


def test_inbound_stop_and_start_opt_a_number_out_and_in(servers: Any, client: Any, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["mediation.example.org"]
    for word, opted_out in (("STOP", True), ("start", False), ("Unsubscribe", True)):
        response = _signed_post(client, "/webhooks/twilio/inbound/", {"From": "+447911123456", "Body": word})
        assert response.status_code == 200
        assert SmsNumber.objects.get(number="+447911123456").opted_out is opted_out
    tampered = client.post(
        "/webhooks/twilio/inbound/",
        {"From": "+447911123457", "Body": "STOP"},
        HTTP_X_TWILIO_SIGNATURE="x",
        secure=True,
        HTTP_HOST="mediation.example.org",
    )
    assert tampered.status_code == 403
    assert not SmsNumber.objects.filter(number="+447911123457").exists()
    # Senders are stored as E.164 numbers (a "whatsapp:" sender was longer than any number), and what is not a
    # number is answered and ignored.
    whatsapp = _signed_post(client, "/webhooks/twilio/inbound/", {"From": "whatsapp:+447911123458", "Body": "STOP"})
    assert whatsapp.status_code == 200 and SmsNumber.objects.get(number="+447911123458").opted_out
    unknown = _signed_post(client, "/webhooks/twilio/inbound/", {"From": "Short-Code-Sender", "Body": "STOP"})
    assert unknown.status_code == 200 and SmsNumber.objects.count() == 2


def test_the_dispatcher_claims_each_row_once_and_reclaims_rows_whose_worker_died() -> None:
    _booked()
    first = claim_due(now=NOW)
    assert first and claim_due(now=NOW) == []  # handed out: leased
    assert message_send(first[0], now=NOW) in ("sent", "deferred")
    assert message_send(first[0], now=NOW) == "skipped"  # a second delivery of the task does nothing
    Message.objects.filter(pk=first[1]).update(status="sending", lease_until=NOW - timedelta(seconds=1))
    assert reclaim_abandoned(now=NOW) == 1
    assert Message.objects.get(pk=first[1]).status == "pending"


def test_a_periodic_job_runs_once_per_slot_even_with_two_beats() -> None:
    assert run_once("dispatch", period_seconds=15, now=NOW) is True
    assert run_once("dispatch", period_seconds=15, now=NOW + timedelta(seconds=5)) is False
    assert run_once("dispatch", period_seconds=15, now=NOW + timedelta(seconds=15)) is True


def test_a_message_that_cannot_be_written_fails_alone_and_the_outbox_goes_on(servers: Any) -> None:
    smtp, _ = servers
    broken, fine = _booked(), _booked()
    # Left over from before times were bounded: a meeting in year 9999 has no calendar that can be written.
    Meeting.objects.filter(pk=broken.pk).update(
        start=datetime(9999, 12, 31, 20, tzinfo=UTC), end=datetime(9999, 12, 31, 23, tzinfo=UTC)
    )
    outcomes = _send_all(NOW)
    emails = Message.objects.filter(meeting=broken, kind="invitation", channel="email")
    assert set(emails.values_list("status", flat=True)) == {"failed"}
    assert all(m.last_error.startswith("could not be written") for m in emails)
    assert outcomes.count("failed") == emails.count()
    assert set(Message.objects.filter(meeting=fine, kind="invitation").values_list("status", flat=True)) == {"sent"}
    assert len([r for r in smtp.received if r.rcpt_tos]) >= 3  # the other meeting's invitations went


def test_a_familys_link_is_forgotten_once_its_message_is_done_with(servers: Any) -> None:
    """Offer tokens are stored as hashes; the outbox keeps the link only until the message has gone (or never will)."""
    from booking.offers import offer_create

    t = helpers.tenant(today=date(2026, 11, 27))
    helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    with time_machine.travel(NOW, tick=False):
        first, _ = offer_create(case=case, actor=t["coordinator"], now=NOW)
        offered = Message.objects.filter(offer=first, kind="offer")
        assert offered and all("/book/" in m.context["link"] for m in offered)
        assert "sent" in _send_all(NOW)
        assert all(m.context == {} for m in offered.filter(status="sent"))
        expiring = Message.objects.get(offer=first, kind="offer_expiring", channel="email")
        assert "link" in expiring.context  # still to go
        offer_create(case=case, actor=t["coordinator"], now=NOW)  # replaces the first: its reminder is cancelled
    expiring.refresh_from_db()
    assert (expiring.status, expiring.context) == ("cancelled", {})


def test_reminders_whole_days_before_keep_the_uk_time_of_day_across_a_change_of_the_clocks() -> None:
    from notifications.services import reminder_due

    # Monday 1 November 2027, 10am GMT; the clocks went back on Sunday 31 October.
    start = datetime(2027, 11, 1, 10, tzinfo=UTC)
    assert reminder_due(start, 7 * 24 * 60) == datetime(2027, 10, 25, 9, tzinfo=UTC)  # 10am BST
    assert reminder_due(start, 24 * 60) == datetime(2027, 10, 31, 10, tzinfo=UTC)  # 10am GMT
    assert reminder_due(start, 120) == datetime(2027, 11, 1, 8, tzinfo=UTC)  # two hours is two hours
