"""Tests for booking.statutory: working days, month arithmetic and the statutory deadlines.

Every expected date below was worked out by hand from the England and Wales bank holidays:

    2025: 1 Jan, 18+21 Apr (Easter), 5+26 May, 25 Aug, 25+26 Dec
    2026: 1 Jan, 3+6 Apr (Easter), 4+25 May, 31 Aug, 25 Dec, 28 Dec (Boxing Day substitute)
    2027: 1 Jan, 26+29 Mar (Easter), 3+31 May, 30 Aug, 27+28 Dec (substitutes)
    2028: 3 Jan (New Year substitute)
"""

from __future__ import annotations

import ast
import dataclasses
from datetime import date
from pathlib import Path

import pytest

from booking import statutory
from booking.statutory import (
    RULES_VERSION,
    CaseFacts,
    Deadline,
    add_months,
    add_working_days,
    agreement_action_due,
    appeal_deadline,
    case_deadlines,
    certificate_due,
    contact_deadline,
    earliest_meeting_date,
    icb_notice_due,
    is_working_day,
    mediation_due,
    min_notice_deadline,
    notice_is_sufficient,
    working_days_between,
)


def d(iso: str) -> date:
    return date.fromisoformat(iso)


# --- is_working_day -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param("2025-01-01", False, id="2025-new-year"),
        pytest.param("2025-04-17", True, id="2025-maundy-thursday"),
        pytest.param("2025-04-18", False, id="2025-good-friday"),
        pytest.param("2025-04-21", False, id="2025-easter-monday"),
        pytest.param("2025-04-22", True, id="2025-easter-tuesday"),
        pytest.param("2025-05-05", False, id="2025-early-may"),
        pytest.param("2025-05-06", True, id="2025-day-after-early-may"),
        pytest.param("2025-05-26", False, id="2025-spring"),
        pytest.param("2025-08-25", False, id="2025-august"),
        pytest.param("2025-12-24", True, id="2025-christmas-eve"),
        pytest.param("2025-12-25", False, id="2025-christmas-thursday"),
        pytest.param("2025-12-26", False, id="2025-boxing-friday"),
        pytest.param("2025-12-29", True, id="2025-monday-after-christmas"),
        pytest.param("2026-01-01", False, id="2026-new-year"),
        pytest.param("2026-01-02", True, id="2026-2-jan-is-scotland-only"),
        pytest.param("2026-04-03", False, id="2026-good-friday"),
        pytest.param("2026-04-06", False, id="2026-easter-monday"),
        pytest.param("2026-05-04", False, id="2026-early-may"),
        pytest.param("2026-05-25", False, id="2026-spring"),
        pytest.param("2026-08-03", True, id="2026-scotland-summer-holiday-is-working"),
        pytest.param("2026-08-31", False, id="2026-august"),
        pytest.param("2026-11-30", True, id="2026-st-andrews-is-working"),
        pytest.param("2026-12-24", True, id="2026-christmas-eve"),
        pytest.param("2026-12-25", False, id="2026-christmas-friday"),
        pytest.param("2026-12-26", False, id="2026-boxing-saturday"),
        pytest.param("2026-12-28", False, id="2026-boxing-observed-monday"),
        pytest.param("2026-12-29", True, id="2026-tuesday-after-christmas"),
        pytest.param("2027-03-26", False, id="2027-good-friday"),
        pytest.param("2027-03-29", False, id="2027-easter-monday"),
        pytest.param("2027-05-03", False, id="2027-early-may"),
        pytest.param("2027-05-31", False, id="2027-spring"),
        pytest.param("2027-08-30", False, id="2027-august"),
        pytest.param("2027-12-24", True, id="2027-christmas-eve-friday"),
        pytest.param("2027-12-25", False, id="2027-christmas-saturday"),
        pytest.param("2027-12-27", False, id="2027-christmas-observed-monday"),
        pytest.param("2027-12-28", False, id="2027-boxing-observed-tuesday"),
        pytest.param("2027-12-29", True, id="2027-wednesday-after-christmas"),
        pytest.param("2028-01-03", False, id="2028-new-year-observed"),
        pytest.param("2028-02-29", True, id="2028-leap-day"),
        pytest.param("2025-03-01", False, id="saturday"),
        pytest.param("2025-03-02", False, id="sunday"),
        pytest.param("2025-03-03", True, id="plain-monday"),
    ],
)
def test_is_working_day(day: str, expected: bool) -> None:
    assert is_working_day(d(day)) is expected


# --- add_working_days and working_days_between ----------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        pytest.param("2025-03-03", 0, "2025-03-03", id="zero-returns-start"),
        pytest.param("2025-03-01", 0, "2025-03-01", id="zero-from-saturday-returns-start"),
        pytest.param("2025-03-01", 1, "2025-03-03", id="saturday-plus-1"),
        pytest.param("2025-03-07", 1, "2025-03-10", id="friday-plus-1-skips-weekend"),
        pytest.param("2025-03-03", 5, "2025-03-10", id="monday-plus-5"),
        pytest.param("2025-03-03", 20, "2025-03-31", id="four-plain-weeks"),
        pytest.param("2025-04-17", 3, "2025-04-24", id="2025-easter"),
        pytest.param("2025-04-18", 1, "2025-04-22", id="from-good-friday"),
        pytest.param("2026-04-02", 1, "2026-04-07", id="2026-easter"),
        pytest.param("2027-03-25", 3, "2027-04-01", id="2027-easter"),
        pytest.param("2025-05-02", 1, "2025-05-06", id="2025-early-may"),
        pytest.param("2026-05-22", 3, "2026-05-28", id="2026-spring"),
        pytest.param("2027-05-28", 1, "2027-06-01", id="2027-spring-month-end"),
        pytest.param("2025-08-22", 3, "2025-08-28", id="2025-august"),
        pytest.param("2026-08-28", 1, "2026-09-01", id="2026-august-month-end"),
        pytest.param("2027-08-27", 5, "2027-09-06", id="2027-august"),
        pytest.param("2025-12-18", 5, "2025-12-29", id="2025-christmas"),
        pytest.param("2025-12-31", 1, "2026-01-02", id="2025-new-year"),
        pytest.param("2026-12-23", 3, "2026-12-30", id="2026-christmas-boxing-observed"),
        pytest.param("2027-12-24", 1, "2027-12-29", id="2027-christmas-substitutes"),
        pytest.param("2027-12-31", 1, "2028-01-04", id="2028-new-year-observed"),
    ],
)
def test_add_working_days(start: str, n: int, expected: str) -> None:
    assert add_working_days(d(start), n) == d(expected)


def test_add_working_days_rejects_negative() -> None:
    with pytest.raises(ValueError):
        add_working_days(d("2025-03-03"), -1)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param("2025-03-03", "2025-03-03", 0, id="same-day"),
        pytest.param("2025-03-10", "2025-03-03", 0, id="end-before-start"),
        pytest.param("2025-03-07", "2025-03-09", 0, id="friday-to-sunday"),
        pytest.param("2025-03-07", "2025-03-10", 1, id="friday-to-monday"),
        pytest.param("2025-03-02", "2025-03-03", 1, id="end-counted"),
        pytest.param("2025-03-03", "2025-03-31", 20, id="four-plain-weeks"),
        pytest.param("2025-05-02", "2025-05-06", 1, id="2025-early-may"),
        pytest.param("2026-04-02", "2026-04-07", 1, id="2026-easter"),
        pytest.param("2025-12-18", "2025-12-29", 5, id="2025-christmas"),
        pytest.param("2025-12-19", "2026-01-02", 7, id="2025-christmas-to-new-year-start-excluded"),
        pytest.param("2026-12-23", "2026-12-31", 4, id="2026-christmas"),
        pytest.param("2027-12-24", "2027-12-29", 1, id="2027-christmas"),
    ],
)
def test_working_days_between(start: str, end: str, expected: int) -> None:
    assert working_days_between(d(start), d(end)) == expected


@pytest.mark.parametrize(
    ("start", "n"),
    [
        pytest.param("2025-12-18", 10, id="2025-christmas"),
        pytest.param("2027-03-24", 4, id="2027-easter"),
        pytest.param("2027-12-22", 7, id="2027-christmas"),
    ],
)
def test_working_days_between_inverts_add_working_days(start: str, n: int) -> None:
    assert working_days_between(d(start), add_working_days(d(start), n)) == n


# --- add_months -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        pytest.param("2025-01-31", 1, "2025-02-28", id="31-jan-2025"),
        pytest.param("2026-01-31", 1, "2026-02-28", id="31-jan-2026"),
        pytest.param("2027-01-31", 1, "2027-02-28", id="31-jan-2027"),
        pytest.param("2028-01-31", 1, "2028-02-29", id="31-jan-2028-leap"),
        pytest.param("2025-03-31", 2, "2025-05-31", id="31-mar-plus-2"),
        pytest.param("2025-12-30", 2, "2026-02-28", id="30-dec-plus-2"),
        pytest.param("2027-12-30", 2, "2028-02-29", id="30-dec-plus-2-leap"),
        pytest.param("2025-08-29", 1, "2025-09-29", id="29-aug-plus-1"),
        pytest.param("2025-08-31", 1, "2025-09-30", id="31-aug-plus-1"),
        pytest.param("2025-04-30", 1, "2025-05-30", id="30-apr-keeps-30"),
        pytest.param("2025-03-03", 2, "2025-05-03", id="plain-day"),
        pytest.param("2025-11-15", 2, "2026-01-15", id="across-year-end"),
        pytest.param("2025-12-31", 1, "2026-01-31", id="31-dec-plus-1"),
        pytest.param("2026-01-15", 12, "2027-01-15", id="twelve-months"),
        pytest.param("2024-02-29", 12, "2025-02-28", id="leap-day-plus-year"),
        pytest.param("2025-03-03", 0, "2025-03-03", id="zero"),
        pytest.param("2025-03-31", -1, "2025-02-28", id="minus-one"),
    ],
)
def test_add_months(start: str, n: int, expected: str) -> None:
    assert add_months(d(start), n) == d(expected)


# --- single deadlines -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        pytest.param("2026-03-03", "2026-05-03", id="plain"),
        pytest.param("2025-12-31", "2026-02-28", id="month-end"),
        pytest.param("2027-12-31", "2028-02-29", id="month-end-leap"),
        pytest.param("2025-06-30", "2025-08-30", id="30-june"),
    ],
)
def test_contact_deadline(sent: str, expected: str) -> None:
    deadline = contact_deadline(d(sent))
    assert deadline.kind == "contact"
    assert deadline.due == d(expected)
    assert deadline.rule == f"decision sent {sent} + 2 calendar months (reg 33 SI 2014/1530)"
    assert deadline.version == RULES_VERSION


@pytest.mark.parametrize(
    ("notified", "expected"),
    [
        pytest.param("2025-03-03", "2025-03-06", id="plain-week"),
        pytest.param("2025-04-17", "2025-04-24", id="2025-easter"),
        pytest.param("2026-12-23", "2026-12-30", id="2026-christmas"),
        pytest.param("2027-05-28", "2027-06-03", id="2027-spring"),
    ],
)
def test_icb_notice_due(notified: str, expected: str) -> None:
    deadline = icb_notice_due(d(notified))
    assert (deadline.kind, deadline.due) == ("icb_notice", d(expected))
    assert f"LA notified {notified} + 3 working days" in deadline.rule


@pytest.mark.parametrize(
    ("kwargs", "expected", "rule_start"),
    [
        pytest.param({"la_notified": d("2026-03-02")}, "2026-04-01", "LA notified", id="la-only"),
        pytest.param({"family_requested": d("2026-03-02")}, "2026-04-01", "family requested", id="family-only"),
        pytest.param(
            {"la_notified": d("2026-03-05"), "family_requested": d("2026-03-02")},
            "2026-04-01",
            "family requested 2026-03-02",
            id="family-earlier-wins",
        ),
        pytest.param(
            {"la_notified": d("2026-03-02"), "family_requested": d("2026-03-05")},
            "2026-04-01",
            "LA notified 2026-03-02",
            id="la-earlier-wins",
        ),
        pytest.param(
            {"la_notified": d("2026-03-02"), "family_requested": d("2026-03-02")},
            "2026-04-01",
            "LA notified 2026-03-02",
            id="same-day-names-la",
        ),
        pytest.param({"la_notified": d("2025-11-25")}, "2025-12-25", "LA notified", id="calendar-days-hit-xmas"),
        pytest.param({"la_notified": d("2025-12-15")}, "2026-01-14", "LA notified", id="across-year-end"),
        pytest.param({"la_notified": d("2027-02-01")}, "2027-03-03", "LA notified", id="february"),
        pytest.param({"la_notified": d("2028-02-01")}, "2028-03-02", "LA notified", id="february-leap"),
        pytest.param(
            {"health_only": True, "la_notified": d("2026-03-05"), "icb_informed": d("2026-03-10")},
            "2026-04-09",
            "ICB informed 2026-03-10",
            id="health-only-from-icb",
        ),
        pytest.param(
            {"health_only": True, "la_notified": d("2026-03-05")},
            "2026-04-04",
            "LA notified 2026-03-05",
            id="health-only-falls-back-to-la",
        ),
        pytest.param(
            {"health_only": True, "family_requested": d("2026-03-01"), "icb_informed": d("2026-03-10")},
            "2026-04-09",
            "ICB informed",
            id="health-only-ignores-family-date",
        ),
    ],
)
def test_mediation_due(kwargs: dict[str, object], expected: str, rule_start: str) -> None:
    deadline = mediation_due(**kwargs)  # type: ignore[arg-type]
    assert deadline is not None
    assert (deadline.kind, deadline.due) == ("mediation", d(expected))
    assert deadline.rule.startswith(rule_start)
    assert "30 calendar days" in deadline.rule


def test_mediation_rule_names_both_dates_when_both_known() -> None:
    deadline = mediation_due(la_notified=d("2026-03-05"), family_requested=d("2026-03-02"))
    assert deadline is not None
    assert deadline.rule == (
        "family requested 2026-03-02 + 30 calendar days, the earlier of this and "
        "LA notified 2026-03-05 + 30 calendar days (s.53 CFA 2014; SI 2014/1530 Part 2)"
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"icb_informed": d("2026-03-10")}, id="icb-date-without-health-only"),
        pytest.param({"health_only": True}, id="health-only-nothing"),
        pytest.param({"health_only": True, "family_requested": d("2026-03-01")}, id="health-only-family-only"),
    ],
)
def test_mediation_due_none_without_start(kwargs: dict[str, object]) -> None:
    assert mediation_due(**kwargs) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("trigger", "trigger_date", "expected", "label"),
    [
        pytest.param("declined", "2025-04-28", "2025-05-01", "family declined", id="worked-example"),
        pytest.param("declined", "2026-05-01", "2026-05-07", "family declined", id="2026-early-may"),
        pytest.param("mediation_concluded", "2025-12-23", "2025-12-30", "mediation concluded", id="2025-christmas"),
        pytest.param("mediation_concluded", "2026-08-27", "2026-09-02", "mediation concluded", id="2026-august"),
        pytest.param("not_arranged_30_days", "2026-04-02", "2026-04-09", "30 days", id="2026-easter"),
        pytest.param("withdrawn", "2027-12-23", "2027-12-30", "withdrew", id="2027-christmas"),
    ],
)
def test_certificate_due(trigger: str, trigger_date: str, expected: str, label: str) -> None:
    deadline = certificate_due(d(trigger_date), trigger)
    assert (deadline.kind, deadline.due) == ("certificate", d(expected))
    assert label in deadline.rule
    assert f"{trigger_date} + 3 working days" in deadline.rule


def test_certificate_due_declined_cites_reg_34() -> None:
    assert "reg 34(1) SI 2014/1530" in certificate_due(d("2025-04-28"), "declined").rule


@pytest.mark.parametrize("trigger", ["deemed", "", "DECLINED"])
def test_certificate_due_rejects_unknown_trigger(trigger: str) -> None:
    with pytest.raises(ValueError):
        certificate_due(d("2025-04-28"), trigger)


@pytest.mark.parametrize(
    ("sent", "issued", "expected", "rule_start"),
    [
        pytest.param("2025-03-03", None, "2025-05-03", "decision sent", id="no-certificate"),
        pytest.param("2025-03-03", "2025-05-01", "2025-06-01", "certificate issued", id="worked-example"),
        pytest.param("2025-03-03", "2025-03-20", "2025-05-03", "decision sent", id="early-certificate"),
        pytest.param("2025-12-31", "2026-01-31", "2026-02-28", "decision sent", id="tie-at-month-end"),
        pytest.param("2025-12-31", "2026-02-10", "2026-03-10", "certificate issued", id="late-certificate"),
        pytest.param("2027-12-30", "2028-01-31", "2028-02-29", "decision sent", id="tie-leap-day"),
        pytest.param("2026-03-31", "2026-04-30", "2026-05-31", "decision sent", id="31-may-beats-30-may"),
        pytest.param("2026-03-31", "2026-05-01", "2026-06-01", "certificate issued", id="1-june-beats-31-may"),
    ],
)
def test_appeal_deadline(sent: str, issued: str | None, expected: str, rule_start: str) -> None:
    deadline = appeal_deadline(d(sent), d(issued) if issued else None)
    assert (deadline.kind, deadline.due) == ("appeal", d(expected))
    assert deadline.rule.startswith(rule_start)
    assert deadline.rule.endswith("(rule 20(1)(c) SI 2008/2699)")


# --- the mediation meeting ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "consent", "expected"),
    [
        pytest.param("2025-03-03", False, "2025-03-10", id="plain-week"),
        pytest.param("2025-05-20", False, "2025-05-28", id="2025-spring"),
        pytest.param("2025-12-18", False, "2025-12-29", id="2025-christmas"),
        pytest.param("2026-03-30", False, "2026-04-08", id="2026-easter"),
        pytest.param("2027-12-20", False, "2027-12-29", id="2027-christmas"),
        pytest.param("2025-12-18", True, "2025-12-18", id="short-notice-consent"),
    ],
)
def test_earliest_meeting_date(sent: str, consent: bool, expected: str) -> None:
    assert earliest_meeting_date(d(sent), short_notice_consent=consent) == d(expected)


@pytest.mark.parametrize(
    ("sent", "meeting", "consent", "expected"),
    [
        pytest.param("2025-03-03", "2025-03-10", False, True, id="exactly-5-working-days"),
        pytest.param("2025-03-03", "2025-03-07", False, False, id="4-working-days"),
        pytest.param("2025-03-03", "2025-03-07", True, True, id="4-working-days-with-consent"),
        pytest.param("2025-03-03", "2025-03-03", True, True, id="same-day-with-consent"),
        pytest.param("2025-03-03", "2025-03-02", True, False, id="meeting-before-notice"),
        pytest.param("2025-12-18", "2025-12-24", False, False, id="2025-christmas-too-short"),
        pytest.param("2025-12-18", "2025-12-29", False, True, id="2025-christmas-enough"),
        pytest.param("2025-12-18", "2025-12-30", False, True, id="2025-christmas-more-than-enough"),
        pytest.param("2027-12-20", "2027-12-28", False, False, id="2027-substitute-days"),
    ],
)
def test_notice_is_sufficient(sent: str, meeting: str, consent: bool, expected: bool) -> None:
    assert notice_is_sufficient(d(sent), d(meeting), short_notice_consent=consent) is expected


@pytest.mark.parametrize(
    ("consent", "expected", "rule_part"),
    [
        pytest.param(False, "2025-03-10", "+ 5 working days", id="standard"),
        pytest.param(True, "2025-03-03", "consented to shorter notice", id="consent"),
    ],
)
def test_min_notice_deadline(consent: bool, expected: str, rule_part: str) -> None:
    deadline = min_notice_deadline(d("2025-03-03"), short_notice_consent=consent)
    assert (deadline.kind, deadline.due) == ("min_notice", d(expected))
    assert rule_part in deadline.rule


# --- after agreement ------------------------------------------------------------------------

AGREED = d("2026-05-01")


@pytest.mark.parametrize(
    ("reg44_kind", "expected", "weeks"),
    [
        pytest.param("assess_notify", "2026-05-15", "2 weeks", id="assess-notify"),
        pytest.param("decide_not_to_issue", "2026-07-10", "10 weeks", id="decide-not-to-issue"),
        pytest.param("final_plan_after_assessment", "2026-08-07", "14 weeks", id="final-after-assessment"),
        pytest.param("draft_plan", "2026-06-05", "5 weeks", id="draft-plan"),
        pytest.param("final_plan", "2026-07-17", "11 weeks", id="final-plan"),
        pytest.param("amend_plan", "2026-06-05", "5 weeks", id="amend-plan"),
        pytest.param("amend_section_i", "2026-05-15", "2 weeks", id="amend-section-i"),
        pytest.param("cease", "2026-05-01", "0 weeks", id="cease-immediately"),
    ],
)
def test_agreement_action_due_reg_44(reg44_kind: str, expected: str, weeks: str) -> None:
    deadline = agreement_action_due(AGREED, appealable=True, reg44_kind=reg44_kind)
    assert (deadline.kind, deadline.due) == ("agreement_action", d(expected))
    assert f"agreement 2026-05-01 + {weeks}" in deadline.rule
    assert "reg 42(2) SI 2014/1530 and reg 44" in deadline.rule


@pytest.mark.parametrize(
    ("agreed", "kwargs", "expected", "source"),
    [
        pytest.param("2026-05-01", {"appealable": False}, "2026-05-15", "reg 42(3)", id="non-appealable"),
        pytest.param(
            "2026-05-01",
            {"appealable": False, "reg44_kind": "draft_plan"},
            "2026-05-15",
            "reg 42(3)",
            id="non-appealable-ignores-reg44-kind",
        ),
        pytest.param(
            "2025-12-19", {"appealable": False}, "2026-01-02", "reg 42(3)", id="calendar-weeks-over-christmas"
        ),
        pytest.param(
            "2026-05-01",
            {"appealable": False, "icb_tells_la": True},
            "2026-05-08",
            "reg 42(4)",
            id="icb-tells-la",
        ),
        pytest.param(
            "2026-05-01",
            {"appealable": True, "reg44_kind": "final_plan", "icb_tells_la": True},
            "2026-05-08",
            "reg 42(4)",
            id="icb-tells-la-appealable",
        ),
        pytest.param(
            "2026-05-01",
            {"appealable": True, "reg44_kind": "draft_plan", "agreed_in_writing": d("2026-06-30")},
            "2026-06-30",
            "reg 42(5)",
            id="written-override-appealable",
        ),
        pytest.param(
            "2026-05-01",
            {"appealable": False, "agreed_in_writing": d("2026-05-04")},
            "2026-05-04",
            "reg 42(5)",
            id="written-override-non-appealable",
        ),
        pytest.param(
            "2026-05-01",
            {"appealable": True, "agreed_in_writing": d("2026-05-01")},
            "2026-05-01",
            "reg 42(5)",
            id="written-override-needs-no-reg44-kind",
        ),
        pytest.param(
            "2026-05-01",
            {"appealable": False, "icb_tells_la": True, "agreed_in_writing": d("2026-06-30")},
            "2026-05-08",
            "reg 42(4)",
            id="written-override-does-not-move-icb-notice",
        ),
    ],
)
def test_agreement_action_due_other_rules(agreed: str, kwargs: dict[str, object], expected: str, source: str) -> None:
    deadline = agreement_action_due(d(agreed), **kwargs)  # type: ignore[arg-type]
    assert (deadline.kind, deadline.due) == ("agreement_action", d(expected))
    assert f"({source} SI 2014/1530)" in deadline.rule


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"appealable": True, "reg44_kind": "amend"}, id="unknown-reg44-kind"),
        pytest.param({"appealable": False, "reg44_kind": "Draft_Plan"}, id="unknown-reg44-kind-non-appealable"),
        pytest.param(
            {"appealable": True, "reg44_kind": "nope", "agreed_in_writing": d("2026-06-01")},
            id="unknown-reg44-kind-with-override",
        ),
        pytest.param({"appealable": True}, id="appealable-without-reg44-kind"),
        pytest.param({"appealable": False, "agreed_in_writing": d("2026-04-30")}, id="written-date-before-agreement"),
    ],
)
def test_agreement_action_due_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        agreement_action_due(AGREED, **kwargs)  # type: ignore[arg-type]


# --- case_deadlines -------------------------------------------------------------------------

WORKED_EXAMPLE = CaseFacts(
    decision_sent=d("2025-03-03"),
    adviser_contacted=d("2025-04-28"),
    certificate_trigger="declined",
    certificate_trigger_date=d("2025-04-28"),
)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        pytest.param(CaseFacts(), {}, id="no-facts"),
        pytest.param(
            CaseFacts(decision_sent=d("2025-03-03")),
            {"contact": "2025-05-03", "appeal": "2025-05-03"},
            id="decision-only",
        ),
        pytest.param(
            WORKED_EXAMPLE,
            {"contact": "2025-05-03", "certificate": "2025-05-01", "appeal": "2025-05-03"},
            id="worked-example-before-issue",
        ),
        pytest.param(
            dataclasses.replace(WORKED_EXAMPLE, certificate_issued=d("2025-05-01")),
            {"contact": "2025-05-03", "certificate": "2025-05-01", "appeal": "2025-06-01"},
            id="worked-example-after-issue",
        ),
        pytest.param(CaseFacts(la_notified=d("2026-03-02")), {"mediation": "2026-04-01"}, id="la-notified"),
        pytest.param(
            CaseFacts(la_notified=d("2026-03-05"), family_requested=d("2026-03-02")),
            {"mediation": "2026-04-01"},
            id="earlier-of-two-mediation-dates",
        ),
        pytest.param(
            CaseFacts(la_notified=d("2026-04-02"), health_involved=True),
            {"icb_notice": "2026-04-09", "mediation": "2026-05-02"},
            id="health-involved-over-easter",
        ),
        pytest.param(CaseFacts(health_involved=True), {}, id="health-involved-without-la-date"),
        pytest.param(
            CaseFacts(
                decision_sent=d("2026-02-02"),
                la_notified=d("2026-03-02"),
                icb_informed=d("2026-03-05"),
                health_involved=True,
                health_only=True,
                certificate_trigger="mediation_concluded",
                certificate_trigger_date=d("2026-03-20"),
            ),
            {"icb_notice": "2026-03-05", "mediation": "2026-04-04", "appeal": "2026-04-02"},
            id="health-only-no-certificate",
        ),
        pytest.param(
            CaseFacts(
                decision_sent=d("2026-02-02"),
                placement_only=True,
                certificate_trigger="declined",
                certificate_trigger_date=d("2026-02-10"),
            ),
            {"appeal": "2026-04-02"},
            id="placement-only-no-certificate",
        ),
        pytest.param(
            CaseFacts(certificate_trigger="declined"),
            {},
            id="trigger-without-date",
        ),
        pytest.param(
            CaseFacts(certificate_trigger_date=d("2026-02-10")),
            {},
            id="date-without-trigger",
        ),
        pytest.param(
            CaseFacts(certificate_trigger="not_arranged_30_days", certificate_trigger_date=d("2027-12-29")),
            {"certificate": "2028-01-04"},
            id="certificate-over-christmas-and-new-year",
        ),
    ],
)
def test_case_deadlines(facts: CaseFacts, expected: dict[str, str]) -> None:
    result = case_deadlines(facts)
    assert {kind: deadline.due for kind, deadline in result.items()} == {kind: d(due) for kind, due in expected.items()}
    for kind, deadline in result.items():
        assert deadline.kind == kind
        assert deadline.version == RULES_VERSION


def test_case_deadlines_rejects_unknown_trigger() -> None:
    facts = CaseFacts(certificate_trigger="deemed", certificate_trigger_date=d("2026-02-10"))
    with pytest.raises(ValueError):
        case_deadlines(facts)


# --- the module itself ----------------------------------------------------------------------


def test_deadline_is_frozen() -> None:
    deadline = contact_deadline(d("2026-03-03"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        deadline.due = d("2026-06-01")  # type: ignore[misc]


def test_rules_version_is_named() -> None:
    assert RULES_VERSION == "SEND-2014.1"
    assert Deadline("contact", d("2026-05-03"), "rule", RULES_VERSION).version == RULES_VERSION


def test_module_is_pure() -> None:
    source = Path(statutory.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "django" not in imported
    called = {
        node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not called & {"today", "now", "utcnow"}


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param("2026-12-25", False, id="christmas-day"),
        pytest.param("2026-04-03", False, id="good-friday"),
        pytest.param("2026-04-06", True, id="easter-monday-comes-from-the-list"),
    ],
)
def test_christmas_and_good_friday_excluded_without_holiday_list(
    monkeypatch: pytest.MonkeyPatch, day: str, expected: bool
) -> None:
    monkeypatch.setattr(statutory, "_ENGLAND_AND_WALES", {})
    is_working_day.cache_clear()
    try:
        assert is_working_day(d(day)) is expected
    finally:
        is_working_day.cache_clear()
