"""The email transport through Django's SMTP backend to a real SMTP server (aiosmtpd), parsed back with `email`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

import pytest
from icalendar import Calendar, Event, vCalAddress

from notifications.transports.base import TransportError
from notifications.transports.email import KINDS, render_email, send_email
from tests.servers.smtp import SmtpServer, smtp_server  # noqa: F401

TO = "pat.parent@example.net"
FROM = "scheduling@mediation.example.org"
START = datetime(2026, 4, 14, 9, 0, tzinfo=UTC)  # 10:00 in London
LINK = "https://mediation.example.org/f/AbCdEf123456789"
UID = "meeting-42@mediation.example.org"


@pytest.fixture
def smtp(settings: Any, smtp_server: SmtpServer) -> SmtpServer:  # noqa: F811
    for name, value in smtp_server.django_settings().items():
        setattr(settings, name, value)
    return smtp_server


def _invite(method: str = "REQUEST") -> bytes:
    event = Event.new(
        uid=UID, sequence=0, summary="Mediation meeting", start=START, end=START + timedelta(hours=2),
        organizer=vCalAddress.new(FROM, cn="Mediation service"),
        attendees=[vCalAddress.new(TO, role="REQ-PARTICIPANT", partstat="NEEDS-ACTION", rsvp=True)],
    )  # fmt: skip
    return Calendar.new(method=method, prodid="-//Mediation//Bookings//EN", subcomponents=[event]).to_ical()


def _send(**overrides: Any) -> Any:
    values: dict[str, Any] = {
        "to": TO, "subject": "Your mediation meeting: Tuesday 14 April", "text": "Plain text\n",
        "html": "<p>HTML</p>", "from_email": FROM, "from_name": "Mediation Service",
    }  # fmt: skip
    return send_email(**{**values, **overrides})


def _structure(part: EmailMessage) -> Any:
    if part.is_multipart():
        return (part.get_content_type(), [_structure(sub) for sub in part.iter_parts()])  # type: ignore[arg-type]
    return part.get_content_type()


def test_an_invitation_arrives_as_text_html_calendar_and_an_ics_attachment(smtp: SmtpServer) -> None:
    result = _send(calendar=_invite(), calendar_method="REQUEST")

    [received] = smtp.received
    assert received.rcpt_tos == [TO] and received.mail_from == FROM
    message = received.parsed()
    assert _structure(message) == (
        "multipart/mixed",
        [("multipart/alternative", ["text/plain", "text/html", "text/calendar"]), "application/ics"],
    )
    alternative, attachment = message.iter_parts()
    plain, html, calendar = alternative.iter_parts()  # type: ignore[union-attr]
    assert plain.get_content() == "Plain text\n"
    assert html.get_content().strip() == "<p>HTML</p>"
    assert calendar.get_param("method") == "REQUEST" and calendar.get_content_charset() == "utf-8"
    assert Calendar.from_ical(calendar.get_content()).events[0]["UID"] == UID
    assert attachment.get_filename() == "invite.ics"
    assert Calendar.from_ical(attachment.get_content()).events[0]["UID"] == UID
    assert message["To"] == TO
    assert parseaddr(message["From"]) == ("Mediation Service", FROM)
    assert message["Subject"] == "Your mediation meeting: Tuesday 14 April"
    assert message["Message-ID"] == result.provider_id and result.status == "sent"
    assert re.fullmatch(r"<[^<>@\s]+@mediation\.example\.org>", result.provider_id)


def test_a_cancellation_carries_method_cancel(smtp: SmtpServer) -> None:
    _send(calendar=_invite("CANCEL"), calendar_method="cancel")

    parts = {part.get_content_type(): part for part in smtp.received[0].parsed().walk()}
    assert parts["text/calendar"].get_param("method") == "CANCEL"
    assert Calendar.from_ical(parts["application/ics"].get_content())["METHOD"] == "CANCEL"


def test_without_a_calendar_it_is_plain_multipart_alternative(smtp: SmtpServer) -> None:
    _send(headers={"Auto-Submitted": "auto-generated"}, from_name=None)

    message = smtp.received[0].parsed()
    assert _structure(message) == ("multipart/alternative", ["text/plain", "text/html"])
    assert message["From"] == FROM
    assert message["Auto-Submitted"] == "auto-generated"


def test_it_sends_to_exactly_one_address(smtp: SmtpServer) -> None:
    with pytest.raises(TypeError):
        _send(to=[TO, "other@example.net"])
    for bad in (f"{TO}, other@example.net", f"{TO};other@example.net", "not-an-address", ""):
        with pytest.raises(TransportError) as caught:
            _send(to=bad)
        assert (caught.value.permanent, caught.value.code) == (True, "address")
    assert smtp.received == []


def test_a_calendar_needs_a_known_method(smtp: SmtpServer) -> None:
    with pytest.raises(ValueError, match="calendar_method"):
        _send(calendar=_invite(), calendar_method=None)


def test_a_refused_mailbox_is_permanent(smtp: SmtpServer) -> None:
    smtp.refuse(TO)

    with pytest.raises(TransportError) as caught:
        _send()

    assert (caught.value.permanent, caught.value.code) == (True, "550")
    assert smtp.received == []


def test_a_temporary_refusal_is_transient(smtp: SmtpServer) -> None:
    smtp.refuse(TO, "450 4.2.1 Mailbox busy, try later")

    with pytest.raises(TransportError) as caught:
        _send()

    assert (caught.value.permanent, caught.value.code) == (False, "450")


def test_a_dropped_connection_is_transient(smtp: SmtpServer) -> None:
    smtp.drop_next()

    with pytest.raises(TransportError) as caught:
        _send()

    assert (caught.value.permanent, caught.value.code) == (False, "connection")
    assert smtp.received == []
    _send()  # the retry goes through
    assert len(smtp.received) == 1


def test_an_smtp_outage_is_transient_and_sending_resumes_after_it(smtp: SmtpServer) -> None:
    smtp.stop()

    with pytest.raises(TransportError) as caught:
        _send()

    assert (caught.value.permanent, caught.value.code) == (False, "connection")
    smtp.start()
    _send()
    assert [item.rcpt_tos for item in smtp.received] == [[TO]]


CONTEXT: dict[str, Any] = {
    "start": START, "end": START + timedelta(hours=2), "previous_start": START - timedelta(days=7),
    "respond_by": datetime(2026, 4, 10, 16, 0, tzinfo=UTC), "place": "Smith & Co Hall, Room 2", "link": LINK,
    "recipient_name": "Pat Parent", "service_name": "Sussex Mediation", "case_reference": "C-2026-0042",
    "problem": "The phone number is not valid.",
    # Things a careless caller might pass; no template may print them.
    "child_name": "Tallulah Featherstonehaugh", "child": {"name": "Tallulah Featherstonehaugh"},
    "dispute": "EHCP section F, tribunal appeal", "health": "autism diagnosis", "needs": "SEND support",
}  # fmt: skip
FORBIDDEN = re.compile(r"Tallulah|Featherstonehaugh|\bEHCP\b|tribunal|\bSEND\b|autism|health|diagnos", re.I)


@pytest.mark.parametrize("kind", KINDS)
def test_no_email_names_the_child_the_dispute_or_health(kind: str) -> None:
    subject, text, html = render_email(kind, CONTEXT)

    for content in (subject, text, html):
        assert not FORBIDDEN.search(content), (kind, FORBIDDEN.search(content))
    assert subject and "\n" not in subject and len(subject) <= 78
    assert "Pat Parent" not in subject
    assert LINK in text and f'href="{LINK}"' in html


def test_subjects_are_neutral_and_dated_in_local_time() -> None:
    subjects = {kind: render_email(kind, CONTEXT)[0] for kind in KINDS}

    assert subjects == {
        "offer": "Please choose a time for your mediation meeting",
        "offer_expiring": "Reminder: please choose a meeting time by Friday 10 April",
        "invitation": "Your mediation meeting: Tuesday 14 April",
        "update": "Changed: your mediation meeting is now on Tuesday 14 April",
        "cancellation": "Cancelled: your mediation meeting on Tuesday 14 April",
        "reminder": "Reminder: your mediation meeting on Tuesday 14 April",
        "certificate": "Your mediation certificate is ready",
        "coordinator_alert": "Action needed on a mediation case (C-2026-0042)",
        "feedback": "How was your mediation meeting?",
    }


def test_bodies_give_local_times_and_escape_only_html() -> None:
    _, text, html = render_email("invitation", CONTEXT)

    assert "Date: Tuesday 14 April 2026\nTime: 10:00 to 12:00\nPlace: Smith & Co Hall, Room 2\n" in text
    assert "Smith &amp; Co Hall, Room 2" in html and "Smith & Co" not in html
    assert text.startswith("Hello Pat Parent,\n\n")


def test_an_online_meeting_says_so() -> None:
    _, text, html = render_email("reminder", {**CONTEXT, "place": None})

    assert "Place: Online." in text and "Online." in html


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown email kind"):
        render_email("newsletter", CONTEXT)


def test_a_rendered_invitation_goes_out_whole(smtp: SmtpServer) -> None:
    subject, text, html = render_email("invitation", CONTEXT)

    send_email(
        to=TO, subject=subject, text=text, html=html, from_email=FROM, from_name="Sussex Mediation",
        calendar=_invite(), calendar_method="REQUEST",
    )  # fmt: skip

    message = smtp.received[0].parsed()
    assert message["Subject"] == "Your mediation meeting: Tuesday 14 April"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and "Time: 10:00 to 12:00" in body.get_content()
