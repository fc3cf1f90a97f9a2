"""Certificates for each route, with their dates; sending through the outbox; the due-date alert; refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine

from booking import certificates, services
from booking.models import Case, Certificate, Participant
from notifications.models import Message
from tests.booking import helpers
from tests.booking.test_outcomes import client, held_case

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 27)  # Friday
NOW = datetime(2026, 11, 27, 15, tzinfo=UTC)


def _family(case: Case) -> Participant:
    return Participant.objects.filter(case=case, role="parent").get()


def _issue(t: dict[str, Any], case: Case) -> dict[str, Any]:
    response = client(t["coordinator"]).post(f"/api/cases/{case.pk}/certificate/")
    assert response.status_code == 201, response.content
    return response.json()


def _pdf_text(pdf: bytes) -> bytes:
    assert pdf.startswith(b"%PDF-")
    return pdf


def _concluded(t: dict[str, Any], **kwargs: Any) -> Case:
    from booking import outcomes

    case = held_case(t, **kwargs)
    outcomes.outcome_record(case=case, actor=t["coordinator"], result="full", now=NOW, today=TODAY)
    case.refresh_from_db()
    return case


@time_machine.travel(NOW, tick=False)
def test_post_mediation_certificate_has_the_dates_the_law_needs() -> None:
    t = helpers.tenant(today=TODAY)
    case = _concluded(t, held_on=date(2026, 11, 26), la_notified=date(2026, 10, 28), decision_sent=date(2026, 9, 10))
    body = _issue(t, case)
    assert body["kind"] == "post_mediation"
    assert (body["trigger_date"], body["due_on"], body["issued_on"]) == ("2026-11-26", "2026-12-01", "2026-11-27")
    assert body["on_time"] is True
    # Later of 10 November (decision + 2 months) and 27 December (issue + 1 month).
    assert body["appeal_deadline"] == "2026-12-27"
    case.refresh_from_db()
    assert case.state == "certificate_issued"
    assert case.certificate_issued_on == TODAY
    assert case.appeal_deadline == date(2026, 12, 27)
    pdf = client(t["coordinator"]).get(f"/api/cases/{case.pk}/certificate.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = _pdf_text(pdf.content)
    for needle in (
        case.reference.encode(),
        b"Local authority: LA",
        b"Mediation held",
        b"Date the decision was sent: 10 September 2026",
        b"Date of issue: 27 November 2026",
        b"Issued by: Provider",
        b"Mediation has taken place",
        b"Appeal deadline: 27 December 2026",
        b"section 55 of the Children and Families Act 2014",
    ):
        assert needle in text, needle
    assert b"Sam Parent" not in text


@time_machine.travel(NOW, tick=False)
def test_declined_certificate() -> None:
    t = helpers.tenant(today=TODAY)
    case = services.case_create(
        actor=t["coordinator"], provider=t["provider"], local_authority=t["la"], route="education_social_care",
        decision="refuse_assessment", decision_sent=date(2026, 10, 1), today=TODAY,
    )  # fmt: skip
    Participant.objects.create(case=case, role="parent", name="Dee", email="dee@example.org")
    case = services.case_transition(
        case=case, actor=t["coordinator"], target="declined", on=date(2026, 11, 24), today=TODAY
    )
    assert case.certificate_due == date(2026, 11, 27)
    body = _issue(t, case)
    assert (body["kind"], body["due_on"], body["on_time"]) == ("declined", "2026-11-27", True)
    assert body["appeal_deadline"] == "2026-12-27"  # later than 1 December (decision + 2 months)
    text = bytes(Certificate.objects.get(pk=body["id"]).pdf)
    assert b"decided not to pursue mediation" in text
    assert b"Refusal to carry out an EHC needs assessment" in text


@time_machine.travel(NOW, tick=False)
def test_deemed_certificate_keeps_the_case_open_for_a_later_mediation() -> None:
    t = helpers.tenant(today=TODAY)
    case = helpers.case(t, la_notified=date(2026, 11, 2), state="scheduling", decision_sent=date(2026, 11, 2))
    case = services.case_transition(
        case=case, actor=t["coordinator"], target="not_arranged_30_days", on=date(2026, 11, 25), today=TODAY
    )
    body = _issue(t, case)
    assert (body["kind"], body["trigger_date"], body["due_on"]) == ("not_arranged_30_days", "2026-11-25", "2026-11-30")
    # 2 January 2027 (decision + 2 months) is later than 27 December (issue + 1 month).
    assert body["appeal_deadline"] == "2027-01-02"
    case.refresh_from_db()
    assert case.state == "not_arranged_30_days"
    assert case.certificate_issued_on == TODAY and case.appeal_deadline == date(2027, 1, 2)
    text = bytes(Certificate.objects.get(pk=body["id"]).pdf)
    assert b"cannot take place" in text and b"Appeal deadline: 2 January 2027" in text
    assert client(t["coordinator"]).post(f"/api/cases/{case.pk}/certificate/").status_code == 409


def test_a_later_certificate_repeats_the_appeal_date_of_the_deemed_one() -> None:  # noqa: PLR0915
    """After a deemed certificate the family may appeal at once; a certificate after a later mediation never tells
    them of a later deadline than the one that may already bind them, and the case agrees with the document."""
    with time_machine.travel(NOW, tick=False):
        t = helpers.tenant(today=TODAY)
        case = helpers.case(t, la_notified=date(2026, 11, 2), state="scheduling", decision_sent=date(2026, 10, 1))
        case = services.case_transition(
            case=case, actor=t["coordinator"], target="not_arranged_30_days", on=date(2026, 11, 25), today=TODAY
        )
        deemed = _issue(t, case)
    assert deemed["appeal_deadline"] == "2026-12-27"  # issue (27 November) + 1 month, later than decision + 2 months
    from datetime import timedelta

    from booking import outcomes
    from booking.models import Meeting

    later, held_on = datetime(2027, 1, 20, 15, tzinfo=UTC), date(2027, 1, 18)
    with time_machine.travel(later, tick=False):
        today = date(2027, 1, 20)
        m = helpers.mediator(t, name="Later")
        start = datetime(2027, 1, 18, 10, tzinfo=UTC)
        Meeting.objects.create(
            case=case, uid="later@test", start=start, end=start + timedelta(hours=3), mode="online", mediator=m,
            notice_given_on=date(2027, 1, 8), late=True,
        )  # fmt: skip
        for target in ("scheduling", "scheduled"):
            case = services.case_transition(case=case, actor=t["coordinator"], target=target, today=today, system=True)
        case = services.case_transition(case=case, actor=t["coordinator"], target="held", on=held_on, today=today)
        outcomes.outcome_record(case=case, actor=t["coordinator"], result="none", now=later, today=today)
        second = _issue(t, case)
    assert second["kind"] == "post_mediation" and second["appeal_deadline"] == deemed["appeal_deadline"]
    case.refresh_from_db()
    assert case.appeal_deadline.isoformat() == deemed["appeal_deadline"]
    assert b"Appeal deadline: 27 December 2026" in bytes(Certificate.objects.get(pk=second["id"]).pdf)


@time_machine.travel(NOW, tick=False)
def test_no_certificate_by_right_after_contact_out_of_time() -> None:
    """reg 33: contact more than 2 months after the decision was sent; the family is pointed to the tribunal."""
    t = helpers.tenant(today=TODAY)
    case = services.case_create(
        actor=t["coordinator"], provider=t["provider"], local_authority=t["la"], route="education_social_care",
        decision="refuse_assessment", decision_sent=date(2026, 8, 3), adviser_contacted=date(2026, 11, 20),
        today=TODAY,
    )  # fmt: skip
    Participant.objects.create(case=case, role="parent", name="Dee", email="dee@example.org")
    case = services.case_transition(
        case=case, actor=t["coordinator"], target="declined", on=date(2026, 11, 24), today=TODAY
    )
    refused = client(t["coordinator"]).post(f"/api/cases/{case.pk}/certificate/")
    assert refused.status_code == 409 and "2-month limit" in refused.json()["message"]
    assert refused.json()["extra"]["contact_deadline"] == "2026-10-03"
    assert not Certificate.objects.filter(case=case).exists()
    # Nothing is due, so nothing is overdue, and the case can be closed.
    case.refresh_from_db()
    assert case.certificate_due is None and not case.certificate_required
    closed = client(t["coordinator"]).post(f"/api/cases/{case.pk}/transitions/", {"to": "closed"}, format="json")
    assert closed.status_code == 200, closed.content


@time_machine.travel(datetime(2026, 12, 3, 10, tzinfo=UTC), tick=False)
def test_withdrawn_certificate_issued_late_is_marked_late() -> None:
    t = helpers.tenant(today=date(2026, 12, 3))
    case = helpers.case(t, la_notified=date(2026, 11, 20), decision_sent=date(2026, 11, 2))
    case = services.case_transition(
        case=case, actor=t["coordinator"], target="withdrawn", on=date(2026, 11, 27), today=date(2026, 12, 3)
    )
    body = _issue(t, case)
    assert (body["kind"], body["due_on"], body["issued_on"], body["on_time"]) == (
        "withdrawn",
        "2026-12-02",
        "2026-12-03",
        False,
    )
    assert b"decided not to continue" in bytes(Certificate.objects.get(pk=body["id"]).pdf)


@time_machine.travel(NOW, tick=False)
def test_the_certificate_goes_to_the_family_and_the_la_by_links_never_as_an_attachment() -> None:
    t = helpers.tenant(today=TODAY)
    t["officer"].email = "olive@la.example.org"
    t["officer"].save()
    case = _concluded(t, held_on=date(2026, 11, 26), la_notified=date(2026, 11, 2), child_name="Zebedee Quill")
    body = _issue(t, case)
    messages = Message.objects.filter(case=case, kind="certificate").order_by("to")
    assert sorted(m.to for m in messages) == ["olive@la.example.org", "sam@example.org"]
    family = messages.get(to="sam@example.org")
    link = family.context["link"]
    assert "/api/certificates/" in link
    response = client(None).get(link.split("8000", 1)[-1])
    assert response.status_code == 200 and response.content == bytes(Certificate.objects.get(pk=body["id"]).pdf)
    assert client(None).get(link.split("8000", 1)[-1].replace("certificate.pdf", "x") + "/").status_code == 404
    tampered = link.split("8000", 1)[-1].replace("/certificate.pdf", "x/certificate.pdf")
    assert client(None).get(tampered).status_code == 404
    la = messages.get(to="olive@la.example.org")
    assert la.context["link"].endswith(f"/api/cases/{case.pk}/certificate.pdf")
    from notifications.render import email_parts

    subject = email_parts(family, now=NOW)["subject"]
    assert "Zebedee" not in subject and case.reference not in subject


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"placement_only": True}, "placement-only"),
        ({"route": "disagreement_resolution", "decision": "none"}, "disagreement resolution"),
    ],
)
def test_no_certificate_for_placement_only_or_dr_cases(fields: dict[str, Any], why: str) -> None:
    t = helpers.tenant(today=TODAY)
    case = helpers.case(t, la_notified=date(2026, 11, 2))
    Case.objects.filter(pk=case.pk).update(**fields)
    case = services.case_transition(case=case, actor=t["coordinator"], target="withdrawn", today=TODAY)
    response = client(t["coordinator"]).post(f"/api/cases/{case.pk}/certificate/")
    assert response.status_code == 409
    assert why in response.json()["message"]
    assert not Certificate.objects.filter(case=case).exists()


@time_machine.travel(NOW, tick=False)
def test_no_certificate_before_its_trigger() -> None:
    t = helpers.tenant(today=TODAY)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    response = client(t["coordinator"]).post(f"/api/cases/{case.pk}/certificate/")
    assert response.status_code == 409 and "no certificate due" in response.json()["message"]


def test_the_coordinator_is_alerted_the_working_day_before_the_certificate_is_due_once() -> None:
    with time_machine.travel(NOW, tick=False):
        t = helpers.tenant(today=TODAY)
        t["provider"].scheduling_email = "team@provider.example.org"
        t["provider"].save()
        case = _concluded(t, held_on=date(2026, 11, 26), la_notified=date(2026, 11, 2))  # due Tuesday 1 December
        assert certificates.certificates_due_alerts(now=NOW) == 0  # Friday: not yet
    monday = datetime(2026, 11, 30, 7, tzinfo=UTC)
    assert certificates.certificates_due_alerts(now=monday) == 1
    certificates.certificates_due_alerts(now=monday.replace(hour=12))
    alerts = Message.objects.filter(case=case, kind="coordinator_alert")
    assert alerts.count() == 1
    assert alerts.get().context["problem"] == "The mediation certificate is due by 1 December 2026."
    assert alerts.get().to == "team@provider.example.org"
    with time_machine.travel(monday, tick=False):
        _issue(t, case)
    assert certificates.certificates_due_alerts(now=datetime(2026, 12, 2, 7, tzinfo=UTC)) == 0


def test_the_pdf_is_the_same_for_the_same_inputs() -> None:
    text = certificates.CertificateText(
        kind="declined", reference="MED-2026-00001", local_authority="LA", issuer="P", decision="D",
        decision_sent=date(2026, 10, 1), trigger_date=date(2026, 11, 24), issued_on=date(2026, 11, 27),
        appeal_deadline=date(2026, 12, 27), appeal_rule="",
    )  # fmt: skip
    assert certificates.certificate_pdf(text) == certificates.certificate_pdf(text)
