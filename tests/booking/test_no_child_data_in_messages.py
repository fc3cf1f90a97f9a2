"""Every SMS, every email subject (and body) and every calendar title is rendered for a case whose child's name,
dispute and health provision are distinctive strings; none of them may appear (DESIGN.md invariant 7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from booking import ical
from booking.models import Case, Offer
from notifications import render
from notifications.models import Message
from notifications.services import meeting_attendees_sync
from notifications.sms_text import TEMPLATES
from notifications.transports.email import KINDS

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)
SECRETS = {
    "child_name": "Zebedee Quillfeather",
    "issues": "Dispute over Makaton signing support",
    "health_provision_sought": "Hydrotherapy for hypermobility",
    "school_name": "Saint Pelagia Academy",
}


def _forbidden(text: str) -> list[str]:
    words = [w for value in SECRETS.values() for w in value.split() if len(w) > 5]
    return [w for w in [*SECRETS.values(), *words] if w.lower() in text.lower()]


@pytest.fixture
def messages(world: Any) -> list[Message]:
    Case.objects.filter(pk=world.case_a.pk).update(**SECRETS)
    meeting = world.meeting_a
    meeting.refresh_from_db()
    attendees, _ = meeting_attendees_sync(meeting)
    attendee = next(a for a in attendees if a.participant_id == world.participant_a.pk)
    offer = Offer.objects.create(case=world.case_a, token_hash="x" * 64, expires_at=NOW + timedelta(days=3))
    rows = []
    for kind in KINDS:
        # SMS exist only for the kinds with an SMS text (render_sms's TEMPLATES); the rest go by email only.
        for channel in ("email", "sms") if kind in TEMPLATES else ("email",):
            fields: dict[str, Any] = {"context": {"link": "https://example.org/x/abc"}}
            if kind in ("offer", "offer_expiring"):
                fields["offer"] = offer
            elif kind in ("invitation", "update", "cancellation", "reminder"):
                fields.update(meeting=meeting, attendee=attendee, sequence=meeting.sequence)
                fields["calendar_method"] = {"cancellation": "CANCEL", "reminder": ""}.get(kind, "REQUEST")
            if kind == "coordinator_alert":
                fields["context"] = {"case_reference": world.case_a.reference, "problem": "A message failed."}
            rows.append(
                Message.objects.create(
                    kind=kind,
                    channel=channel,
                    to="pa@example.org" if channel == "email" else "+447700900123",
                    recipient_name="Parent A",
                    organisation=world.provider_a,
                    case=world.case_a,
                    participant=world.participant_a,
                    due_at=NOW,
                    dedupe_key=f"leak-{kind}-{channel}",
                    **fields,
                )  # fmt: skip
            )
    return rows


def test_no_sms_carries_the_childs_name_the_dispute_or_health(messages: list[Message]) -> None:
    rendered = {m.kind: render.sms_body(m) for m in messages if m.channel == "sms"}
    assert set(rendered) == set(TEMPLATES)
    for kind, text in rendered.items():
        assert _forbidden(text) == [], (kind, text)


def test_no_email_subject_or_body_carries_them(messages: list[Message]) -> None:
    for message in (m for m in messages if m.channel == "email"):
        parts = render.email_parts(message, now=NOW)
        assert _forbidden(parts["subject"]) == [], (message.kind, parts["subject"])
        assert _forbidden(parts["text"]) == [] and _forbidden(parts["html"]) == [], message.kind
        if "calendar" in parts:
            assert _forbidden(parts["calendar"].decode()) == [], message.kind


def test_messages_name_the_provider_neutrally_never_by_a_legal_name_that_says_send(
    world: Any, messages: list[Message]
) -> None:
    """DOMAIN.md: no "SEND", "EHCP" or "tribunal" wording in what families are sent; a neutral sender."""
    from django.core.exceptions import ValidationError

    from core.models import Organisation

    Organisation.objects.filter(pk=world.provider_a.pk).update(name="Coastal SEND Mediation CIC", sender_name="")
    for message in (m for m in messages if m.channel == "email"):
        message.refresh_from_db()
        parts = render.email_parts(message, now=NOW)
        written = " ".join([parts["from_name"], parts["subject"], parts["text"], parts["html"]])
        written += (parts.get("calendar") or b"").decode()
        assert "SEND" not in written and "Coastal" not in written, message.kind
        assert "Mediation service" in parts["from_name"], parts["from_name"]
    Organisation.objects.filter(pk=world.provider_a.pk).update(sender_name="Coastal Mediation")
    message = next(m for m in messages if m.kind == "invitation" and m.channel == "email")
    message.refresh_from_db()
    parts = render.email_parts(message, now=NOW)
    organizer = next(
        line for line in parts["calendar"].decode().replace("\r\n ", "").split("\r\n") if "ORGANIZER" in line
    )
    assert "Coastal Mediation" in parts["from_name"] and "Coastal Mediation" in organizer
    provider = Organisation.objects.get(pk=world.provider_a.pk)
    provider.sender_name = "Coastal SEND Mediation"
    with pytest.raises(ValidationError):
        provider.full_clean()


def test_no_calendar_title_carries_them(world: Any, messages: list[Message]) -> None:
    meeting = world.meeting_a
    invite = render.invite_for(meeting)
    assert _forbidden(invite.summary) == [] and _forbidden(invite.description) == []
    for data in (
        ical.build_request(invite, dtstamp=NOW),
        ical.build_cancel(render.invite_for(meeting, cancelled=True), dtstamp=NOW),
        ical.build_publish([invite], dtstamp=NOW, name="Mediation meetings"),
        ical.build_for_caldav(invite, dtstamp=NOW).encode(),
    ):
        assert _forbidden(data.decode()) == []


def test_the_certificate_pdf_carries_none_of_them(world: Any) -> None:
    from booking.certificates import CertificateText, certificate_pdf

    case = world.case_a
    Case.objects.filter(pk=case.pk).update(**SECRETS)
    pdf = certificate_pdf(
        CertificateText(
            kind="post_mediation",
            reference=case.reference,
            local_authority="LA A",
            issuer="Provider A",
            decision=case.get_decision_display(),
            decision_sent=case.decision_sent,
            trigger_date=NOW.date(),
            issued_on=NOW.date(),
            appeal_deadline=None,
            appeal_rule="",
        )  # fmt: skip
    )
    assert _forbidden(pdf.decode("latin-1")) == []
