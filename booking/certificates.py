"""The mediation certificate: the PDF for each route, issuing it, sending it, and watching its 3-working-day clock.

The PDF names the case by its reference only: no child's or parent's name, no dispute. It is built with
``invariant=1`` (no creation time or random id, so the same inputs give the same bytes) and without page
compression, so its text can be searched in the bytes.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import Http404
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from booking import statutory
from booking.models import Case, CaseEvent, Certificate, Participant
from booking.services import _record, case_recompute_deadlines, case_transition
from booking.states import State
from core.clock import local_today
from core.errors import ConflictError
from core.models import Membership
from core.services import actor_label

SIGNING_SALT = "booking.certificate-download"
LINK_MAX_AGE = 60 * 60 * 24 * 183  # the family may need it for an appeal months later
KIND_FOR_STATE = {
    State.CONCLUDED: Certificate.Kind.POST_MEDIATION,
    State.DECLINED: Certificate.Kind.DECLINED,
    State.WITHDRAWN: Certificate.Kind.WITHDRAWN,
    State.NOT_ARRANGED_30_DAYS: Certificate.Kind.NOT_ARRANGED_30_DAYS,
}
LEGAL_BASIS = "section 55 of the Children and Families Act 2014 and Part 2 of the SEND Regulations 2014"
STATEMENTS = {
    Certificate.Kind.POST_MEDIATION: (
        "Mediation has taken place between the parent or young person and the local authority",
        "about the decision named below. The parent or young person may now appeal to the",
        "First-tier Tribunal (Special Educational Needs and Disability).",
    ),
    Certificate.Kind.DECLINED: (
        "The parent or young person has received information about mediation from the mediation",
        "adviser and has decided not to pursue mediation. They may now appeal to the",
        "First-tier Tribunal (Special Educational Needs and Disability).",
    ),
    Certificate.Kind.NOT_ARRANGED_30_DAYS: (
        "The local authority has told the mediation adviser that mediation cannot take place",
        "within 30 days of it being told the parent or young person wishes to mediate. They may",
        "now appeal to the First-tier Tribunal (Special Educational Needs and Disability).",
    ),
    Certificate.Kind.WITHDRAWN: (
        "The parent or young person asked for mediation and has since decided not to continue",
        "with it. They may now appeal to the First-tier Tribunal (Special Educational Needs",
        "and Disability).",
    ),
}


def long_date(value: date | None) -> str:
    return f"{value.day} {value:%B %Y}" if value else "not recorded"


@dataclass(frozen=True)
class CertificateText:
    kind: str
    reference: str
    local_authority: str
    issuer: str
    decision: str
    decision_sent: date | None
    trigger_date: date
    issued_on: date
    appeal_deadline: date | None
    appeal_rule: str


def certificate_pdf(text: CertificateText) -> bytes:
    """One A4 page. Plain ASCII text so that every line can be found in the bytes."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1, pageCompression=0)
    pdf.setTitle(f"Mediation certificate {text.reference}")
    pdf.setAuthor(text.issuer)
    width, height = A4
    y = height - 30 * mm

    def line(value: str, *, size: int = 11, bold: bool = False, gap: float = 6.5) -> None:
        nonlocal y
        pdf.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        pdf.drawString(25 * mm, y, value)
        y -= gap * mm

    line("Mediation certificate", size=18, bold=True, gap=10)
    line(Certificate.Kind(text.kind).label, size=13, bold=True, gap=10)
    line(f"Case reference: {text.reference}")
    line(f"Local authority: {text.local_authority}")
    line(f"Decision: {text.decision}")
    line(f"Date the decision was sent: {long_date(text.decision_sent)}")
    line(f"Date of the event this certificate records: {long_date(text.trigger_date)}")
    line(f"Date of issue: {long_date(text.issued_on)}")
    line(f"Issued by: {text.issuer}, the mediation adviser", gap=10)
    for sentence in STATEMENTS[Certificate.Kind(text.kind)]:
        line(sentence, gap=5.5)
    y -= 4 * mm
    line(f"This certificate is issued under {LEGAL_BASIS}.", gap=10)
    line(f"Appeal deadline: {long_date(text.appeal_deadline)}", size=13, bold=True, gap=7)
    line("An appeal must reach the tribunal by the later of 2 months after the decision was sent", size=10, gap=5)
    line("and 1 month after the date of issue of this certificate (rule 20 of the Tribunal", size=10, gap=5)
    line("Procedure (First-tier Tribunal) (HESC) Rules 2008).", size=10, gap=5)
    if text.appeal_rule:
        line(f"Worked out as: {text.appeal_rule}", size=8, gap=5)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def certificate_kind_for(case: Case) -> str:
    if not case.certificate_required:
        raise ConflictError(
            "No certificate is issued for this case: placement-only appeals, health-only mediation and disagreement "
            "resolution need none.",
            {"placement_only": case.placement_only, "route": case.route},
        )
    kind = KIND_FOR_STATE.get(case.state)
    if kind is None:
        raise ConflictError(
            f"A case that is {case.get_state_display().lower()} has no certificate due: one is issued once the "
            "mediation has concluded, the family declined or withdrew, or the LA said mediation cannot be held "
            "within 30 days.",
            {"state": case.state},
        )
    return kind


def family_link_token(certificate: Certificate) -> str:
    return signing.TimestampSigner(salt=SIGNING_SALT).sign(certificate.token)


def family_download_url(certificate: Certificate) -> str:
    return f"{settings.SITE_URL}/api/certificates/{family_link_token(certificate)}/certificate.pdf"


def staff_download_url(certificate: Certificate) -> str:
    return f"{settings.SITE_URL}/api/cases/{certificate.case_id}/certificate.pdf"


def certificate_from_link(token: str) -> Certificate | None:
    try:
        raw = signing.TimestampSigner(salt=SIGNING_SALT).unsign(token, max_age=LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    return Certificate.objects.filter(token=raw).first()


def _recipients(case: Case, certificate: Certificate) -> list[tuple[str, str, Participant | None, str]]:
    """(address, name, participant, link): the family by their signed link, the LA by the staff address."""
    out: dict[str, tuple[str, str, Participant | None, str]] = {}
    family_roles = (Participant.Role.PARENT, Participant.Role.YOUNG_PERSON, Participant.Role.ALTERNATIVE_PERSON)
    la_staff = set(
        Membership.objects.filter(organisation=case.local_authority, role=Membership.Role.COORDINATOR).values_list(
            "user_id", flat=True
        )
    )
    for p in case.participants.exclude(email=""):
        if p.role in family_roles:
            out.setdefault(p.email.lower(), (p.email, p.name, p, family_download_url(certificate)))
        elif p.role == Participant.Role.LA_OFFICER:
            link = staff_download_url(certificate) if p.user_id in la_staff else family_download_url(certificate)
            out.setdefault(p.email.lower(), (p.email, p.name, p, link))
    if not any(p is not None and p.role == Participant.Role.LA_OFFICER for _, _, p, _ in out.values()):
        for membership in (
            Membership.objects.filter(user_id__in=la_staff).exclude(user__email="").select_related("user")
        ):
            user = membership.user
            out.setdefault(
                user.email.lower(), (user.email, user.get_full_name(), None, staff_download_url(certificate))
            )
    return list(out.values())


def _queue(case: Case, certificate: Certificate, *, now: datetime) -> int:
    from notifications.models import Message
    from notifications.services import message_queue

    count = 0
    for address, name, participant, link in _recipients(case, certificate):
        written = message_queue(
            dedupe_key=f"certificate:{certificate.pk}:{address.lower()}",
            kind=Message.Kind.CERTIFICATE,
            channel=Message.Channel.EMAIL,
            to=address,
            recipient_name=name,
            organisation=case.provider,
            case=case,
            participant=participant,
            context={"link": link},
            due_at=now,
        )
        count += written is not None
    return count


@transaction.atomic
def certificate_issue(*, case: Case, actor: Any, now: datetime) -> Certificate:
    """Issue the certificate the case's route calls for, store its PDF, and send it to the family and the LA."""
    today = local_today(now)
    case = Case.objects.select_for_update().select_related("provider", "local_authority").get(pk=case.pk)
    if statutory.contact_out_of_time(case.decision_sent, case.adviser_contacted):
        raise ConflictError(
            "The family contacted the mediation adviser after the 2-month limit (reg 33), so no certificate is due "
            "by right. Tell the family they may ask the tribunal for permission to appeal without one.",
            {"out_of_time": True, "contact_deadline": statutory.contact_deadline(case.decision_sent).due.isoformat()},
        )
    kind = certificate_kind_for(case)
    if Certificate.objects.filter(case=case, kind=kind).exists():
        raise ConflictError("This certificate has already been issued.", {"kind": kind})
    trigger_date, due = case.certificate_trigger_date or today, case.certificate_due or today
    if case.state == State.NOT_ARRANGED_30_DAYS:
        # The case stays open for a later mediation, so its state does not move; only the issue date is kept.
        case.certificate_issued_on = case.certificate_issued_on or today
        changed = case_recompute_deadlines(case=case)
        case.save(update_fields=["certificate_issued_on", *changed, "updated_at"])
    else:
        case = case_transition(case=case, actor=actor, target=State.CERTIFICATE_ISSUED, today=today, system=True)
    # Rule 20 counts from "the certificate": after a deemed certificate, a later one repeats the first one's appeal
    # date (the case's), so the family is never told of a later deadline than one that may already bind them.
    issued_first = case.certificate_issued_on or today
    appeal = statutory.appeal_deadline(case.decision_sent, issued_first) if case.decision_sent else None
    text = CertificateText(
        kind=kind,
        reference=case.reference,
        local_authority=case.local_authority.name,
        issuer=case.provider.name,
        decision=case.get_decision_display(),
        decision_sent=case.decision_sent,
        trigger_date=trigger_date,
        issued_on=today,
        appeal_deadline=appeal.due if appeal else None,
        appeal_rule=appeal.rule if appeal else "",
    )
    pdf = certificate_pdf(text)
    certificate = Certificate.objects.create(
        case=case,
        kind=kind,
        issuer=case.provider,
        local_authority=case.local_authority,
        decision_sent=case.decision_sent,
        trigger_date=trigger_date,
        due_on=due,
        issued_on=today,
        appeal_deadline=text.appeal_deadline,
        appeal_rule=text.appeal_rule,
        issued_by=actor if getattr(actor, "is_authenticated", False) else None,
        issued_by_label=actor_label(actor),
        pdf=pdf,
        sha256=hashlib.sha256(pdf).hexdigest(),
        token=secrets.token_urlsafe(24),
    )
    _record(
        case,
        CaseEvent.Kind.UPDATED,
        actor=actor,
        reason="certificate issued",
        details={"certificate": certificate.pk, "kind": kind, "on_time": today <= due},
    )
    _queue(case, certificate, now=now)
    return certificate


def certificate_latest(*, case: Case) -> Certificate:
    certificate = case.certificates.order_by("-issued_on", "-id").first()
    if certificate is None:
        raise Http404
    return certificate


WAITING_STATES = tuple(KIND_FOR_STATE)


def certificates_due_alerts(*, now: datetime) -> int:
    """Tell the coordinator about every certificate due by the next working day and not yet issued: the working day
    before it falls due (or at once, if that day was missed). Safe to run often: each alert is written once."""
    from notifications.services import coordinator_alert

    today = local_today(now)
    horizon = statutory.add_working_days(today, 1)
    cases = Case.objects.filter(
        state__in=WAITING_STATES, certificate_due__isnull=False, certificate_due__lte=horizon
    ).select_related("provider")
    alerted = 0
    for case in cases:
        kind = KIND_FOR_STATE[case.state]
        if not case.certificate_required or case.certificates.filter(kind=kind).exists():
            continue
        when = "is overdue" if case.certificate_due < today else f"is due by {long_date(case.certificate_due)}"
        coordinator_alert(
            case,
            problem=f"The mediation certificate {when}.",
            key=f"certificate-due:{case.pk}:{kind}:{case.certificate_due.isoformat()}",
            now=now,
        )
        alerted += 1
    return alerted
