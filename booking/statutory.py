"""Statutory deadlines for SEND mediation in England.

Pure functions over plain dates: no Django, no ORM, no clock. "Today" is always passed in by
the caller. Every computed :class:`Deadline` carries the rule text and :data:`RULES_VERSION`
so that a stored deadline can be traced back to the version of the law that produced it.

Legal sources:

- Children and Families Act 2014 (CFA), ss.51-56.
- Special Educational Needs and Disability Regulations 2014 (SI 2014/1530), regs 32-44.
- Tribunal Procedure (First-tier Tribunal) (HESC) Rules 2008 (SI 2008/2699), rule 20.
- SEND Code of Practice 0-25 (2015), chapter 11 (5 working days' notice of a mediation).

Working days exclude Saturdays, Sundays, Christmas Day, Good Friday and the bank holidays of
England and Wales.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import date, timedelta

import holidays
from dateutil.easter import easter

RULES_VERSION = "SEND-2014.1"

REG_33 = "reg 33 SI 2014/1530"
REG_34 = "reg 34(1) SI 2014/1530"
MEDIATION_REGS = "s.55 CFA 2014; SI 2014/1530 Part 2"
ICB_NOTICE = "s.53 CFA 2014; SI 2014/1530 Part 2"
LA_MEDIATION = "s.53 CFA 2014; SI 2014/1530 Part 2"
HEALTH_MEDIATION = "s.54 CFA 2014; SI 2014/1530 Part 2"
RULE_20 = "rule 20(1)(c) SI 2008/2699"
CODE_NOTICE = "SEND Code of Practice 2015, ch. 11"
REG_42 = "reg 42({para}) SI 2014/1530"

CERTIFICATE_WORKING_DAYS = 3
ICB_NOTICE_WORKING_DAYS = 3
MEDIATION_CALENDAR_DAYS = 30
MIN_NOTICE_WORKING_DAYS = 5
CONTACT_MONTHS = 2
APPEAL_MONTHS_AFTER_DECISION = 2
APPEAL_MONTHS_AFTER_CERTIFICATE = 1

CERTIFICATE_TRIGGERS: dict[str, tuple[str, str]] = {
    "declined": ("family declined mediation", REG_34),
    "withdrawn": ("family withdrew from mediation", "reg 34 SI 2014/1530"),
    "mediation_concluded": ("mediation concluded", MEDIATION_REGS),
    "not_arranged_30_days": ("LA told adviser mediation cannot be held within 30 days", MEDIATION_REGS),
}

REG_44_WEEKS: dict[str, tuple[int, str]] = {
    "assess_notify": (2, "notify that the LA will assess"),
    "decide_not_to_issue": (10, "decision not to issue a plan"),
    "final_plan_after_assessment": (14, "final plan after assessment"),
    "draft_plan": (5, "draft plan"),
    "final_plan": (11, "final plan"),
    "amend_plan": (5, "amend the plan"),
    "amend_section_i": (2, "amend section I only"),
    "cease": (0, "cease to maintain: immediately"),
}
NON_APPEALABLE_WEEKS = 2
ICB_TELLS_LA_WEEKS = 1

_ENGLAND_AND_WALES = holidays.UK(subdiv="ENG")


@dataclass(frozen=True)
class Deadline:
    """A computed statutory deadline, with the rule that produced it."""

    kind: str
    due: date
    rule: str
    version: str = RULES_VERSION


@dataclass(frozen=True)
class CaseFacts:
    """The dated facts of one mediation case; every field is optional."""

    decision_sent: date | None = None
    adviser_contacted: date | None = None
    la_notified: date | None = None
    family_requested: date | None = None
    icb_informed: date | None = None
    health_involved: bool = False
    health_only: bool = False
    placement_only: bool = False
    certificate_trigger: str | None = None
    certificate_trigger_date: date | None = None
    certificate_issued: date | None = None


# --- calendar -------------------------------------------------------------------------------


def _is_good_friday(d: date) -> bool:
    return d == easter(d.year) - timedelta(days=2)


@functools.lru_cache(maxsize=4096)
def is_working_day(d: date) -> bool:
    """True unless ``d`` is a Saturday, Sunday, Christmas Day, Good Friday or an England and
    Wales bank holiday (including substitute "observed" days)."""
    if d.weekday() >= 5:
        return False
    if (d.month, d.day) == (12, 25) or _is_good_friday(d):
        return False
    return d not in _ENGLAND_AND_WALES


def add_working_days(d: date, n: int) -> date:
    """The date ``n`` working days after ``d``; ``d`` itself is not counted."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    current = d
    while n > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            n -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Number of working days in the half-open interval (start, end]."""
    days = (end - start).days
    return sum(1 for i in range(1, days + 1) if is_working_day(start + timedelta(days=i)))


def add_months(d: date, n: int) -> date:
    """``d`` plus ``n`` calendar months: the corresponding day, or the last day of the target
    month when it has no such day (31 January + 1 month = 28 or 29 February)."""
    month_index = d.year * 12 + (d.month - 1) + n
    year, month = divmod(month_index, 12)
    month += 1
    last_day = calendar.monthrange(year, month)[1]
    return date(year, month, min(d.day, last_day))


def _months_text(n: int) -> str:
    return f"{n} calendar month{'s' if n != 1 else ''}"


# --- deadlines before mediation ------------------------------------------------------------


def contact_deadline(decision_sent: date) -> Deadline:
    """Contact the mediation adviser within 2 months after the decision notice was sent
    (reg 33 SI 2014/1530; the clock runs from sending, not receipt)."""
    return Deadline(
        kind="contact",
        due=add_months(decision_sent, CONTACT_MONTHS),
        rule=f"decision sent {decision_sent} + {_months_text(CONTACT_MONTHS)} ({REG_33})",
    )


def icb_notice_due(la_notified: date) -> Deadline:
    """The LA tells each relevant ICB the mediation issues within 3 working days of being told
    that the family wants mediation on health care issues (s.53 CFA 2014; SI 2014/1530)."""
    return Deadline(
        kind="icb_notice",
        due=add_working_days(la_notified, ICB_NOTICE_WORKING_DAYS),
        rule=f"LA notified {la_notified} + {ICB_NOTICE_WORKING_DAYS} working days ({ICB_NOTICE})",
    )


def _plus_30(label: str, start: date) -> tuple[date, str]:
    due = start + timedelta(days=MEDIATION_CALENDAR_DAYS)
    return due, f"{label} {start} + {MEDIATION_CALENDAR_DAYS} calendar days"


def _la_mediation_due(la_notified: date | None, family_requested: date | None) -> Deadline | None:
    options = []
    if la_notified is not None:
        options.append(_plus_30("LA notified", la_notified))
    if family_requested is not None:
        options.append(_plus_30("family requested", family_requested))
    if not options:
        return None
    options.sort(key=lambda option: option[0])  # stable: the LA date stays first on a tie
    due, text = options[0]
    if len(options) == 2:
        text = f"{text}, the earlier of this and {options[1][1]}"
    return Deadline(kind="mediation", due=due, rule=f"{text} ({LA_MEDIATION})")


def mediation_due(
    *,
    la_notified: date | None = None,
    family_requested: date | None = None,
    icb_informed: date | None = None,
    health_only: bool = False,
) -> Deadline | None:
    """Mediation must take place within 30 calendar days.

    LA-arranged (s.53 CFA 2014): from the LA being told; when the family's own request date is
    also known, the earlier of the two dates applies (sources disagree on the start, so the
    safer one is used). Health only (s.54 CFA 2014): the ICB arranges it within 30 days of the
    LA telling the ICB the issues; the LA notification date is used when that is unknown.
    Returns None when no start date is known.
    """
    if not health_only:
        return _la_mediation_due(la_notified, family_requested)
    if icb_informed is not None:
        due, text = _plus_30("ICB informed", icb_informed)
    elif la_notified is not None:
        due, text = _plus_30("LA notified", la_notified)
        text = f"{text} (ICB informed date unknown)"
    else:
        return None
    return Deadline(kind="mediation", due=due, rule=f"{text} ({HEALTH_MEDIATION})")


def certificate_due(trigger_date: date, trigger: str) -> Deadline:
    """The mediation adviser issues a certificate within 3 working days of the trigger: the
    family declining or withdrawing (reg 34 SI 2014/1530), the mediation concluding, or the LA
    saying it cannot arrange mediation within 30 days (s.55 CFA 2014; SI 2014/1530 Part 2)."""
    if trigger not in CERTIFICATE_TRIGGERS:
        expected = sorted(CERTIFICATE_TRIGGERS)
        raise ValueError(f"unknown certificate trigger {trigger!r}; expected one of {expected}")
    label, source = CERTIFICATE_TRIGGERS[trigger]
    return Deadline(
        kind="certificate",
        due=add_working_days(trigger_date, CERTIFICATE_WORKING_DAYS),
        rule=f"{label} {trigger_date} + {CERTIFICATE_WORKING_DAYS} working days ({source})",
    )


def appeal_deadline(decision_sent: date, certificate_issued: date | None = None) -> Deadline:
    """Appeal to the First-tier Tribunal within 2 months after the decision notice was sent, or
    within 1 month of the certificate's issue if that is later (rule 20(1)(c) SI 2008/2699)."""
    from_decision = add_months(decision_sent, APPEAL_MONTHS_AFTER_DECISION)
    decision_text = f"decision sent {decision_sent} + {_months_text(APPEAL_MONTHS_AFTER_DECISION)}"
    if certificate_issued is None:
        return Deadline(kind="appeal", due=from_decision, rule=f"{decision_text} ({RULE_20})")
    from_certificate = add_months(certificate_issued, APPEAL_MONTHS_AFTER_CERTIFICATE)
    certificate_text = f"certificate issued {certificate_issued} + {_months_text(APPEAL_MONTHS_AFTER_CERTIFICATE)}"
    if from_certificate > from_decision:
        rule = f"{certificate_text}, later than {decision_text} ({RULE_20})"
        return Deadline(kind="appeal", due=from_certificate, rule=rule)
    rule = f"{decision_text}, not earlier than {certificate_text} ({RULE_20})"
    return Deadline(kind="appeal", due=from_decision, rule=rule)


# --- the mediation meeting ------------------------------------------------------------------


def earliest_meeting_date(notice_sent: date, *, short_notice_consent: bool = False) -> date:
    """The first day a mediation may be held after notice of its date and place was sent: at
    least 5 working days' notice unless the family agrees to less (SEND Code of Practice 2015,
    ch. 11, as quoted in Kumar v LB Hillingdon)."""
    if short_notice_consent:
        return notice_sent
    return add_working_days(notice_sent, MIN_NOTICE_WORKING_DAYS)


def min_notice_deadline(notice_sent: date, *, short_notice_consent: bool = False) -> Deadline:
    """:func:`earliest_meeting_date` as a :class:`Deadline` of kind ``min_notice``."""
    due = earliest_meeting_date(notice_sent, short_notice_consent=short_notice_consent)
    if short_notice_consent:
        rule = f"notice sent {notice_sent}, family consented to shorter notice ({CODE_NOTICE})"
    else:
        rule = f"notice sent {notice_sent} + {MIN_NOTICE_WORKING_DAYS} working days ({CODE_NOTICE})"
    return Deadline(kind="min_notice", due=due, rule=rule)


def notice_is_sufficient(notice_sent: date, meeting_day: date, *, short_notice_consent: bool = False) -> bool:
    """True when a meeting on ``meeting_day`` respects the notice rule of
    :func:`earliest_meeting_date` (SEND Code of Practice 2015, ch. 11)."""
    return meeting_day >= earliest_meeting_date(notice_sent, short_notice_consent=short_notice_consent)


# --- after a mediation agreement ------------------------------------------------------------


def _weeks_text(n: int) -> str:
    return f"{n} week{'s' if n != 1 else ''}"


def _agreement_deadline(agreement_date: date, weeks: int, what: str, para: str) -> Deadline:
    source = REG_42.format(para=para)
    if para == "2":
        source = f"{source} and reg 44"
    return Deadline(
        kind="agreement_action",
        due=agreement_date + timedelta(weeks=weeks),
        rule=f"agreement {agreement_date} + {_weeks_text(weeks)}, {what} ({source})",
    )


def agreement_action_due(
    agreement_date: date,
    *,
    appealable: bool,
    reg44_kind: str | None = None,
    icb_tells_la: bool = False,
    agreed_in_writing: date | None = None,
) -> Deadline:
    """When the LA or ICB must act on a mediation agreement (reg 42 SI 2014/1530).

    - ICB tells the LA of the agreement, where the LA was not a party: 1 week (reg 42(4)).
      Reg 42(5) does not apply to this notice, so a written timescale does not move it.
    - A timescale agreed in writing replaces those of reg 42(2) and (3) (reg 42(5)).
    - Appealable matters: the reg 44 time limits, as if the agreement were a tribunal order
      (reg 42(2)).
    - Other matters: 2 weeks (reg 42(3)).
    """
    if reg44_kind is not None and reg44_kind not in REG_44_WEEKS:
        raise ValueError(f"unknown reg44_kind {reg44_kind!r}; expected one of {sorted(REG_44_WEEKS)}")
    if agreed_in_writing is not None and agreed_in_writing < agreement_date:
        raise ValueError("agreed_in_writing cannot be earlier than the agreement date")
    if icb_tells_la:
        return _agreement_deadline(agreement_date, ICB_TELLS_LA_WEEKS, "ICB notifies the LA", "4")
    if agreed_in_writing is not None:
        rule = f"timescale agreed in writing on agreement {agreement_date} ({REG_42.format(para='5')})"
        return Deadline(kind="agreement_action", due=agreed_in_writing, rule=rule)
    if not appealable:
        return _agreement_deadline(agreement_date, NON_APPEALABLE_WEEKS, "non-appealable matter", "3")
    if reg44_kind is None:
        raise ValueError("reg44_kind is required for an appealable matter")
    weeks, what = REG_44_WEEKS[reg44_kind]
    return _agreement_deadline(agreement_date, weeks, what, "2")


# --- one case -------------------------------------------------------------------------------


def certificate_required(facts: CaseFacts) -> bool:
    """No certificate is needed for a placement-only appeal (section I only) or for health-only
    issues, which carry no freestanding tribunal appeal (s.55 CFA 2014)."""
    return not (facts.placement_only or facts.health_only)


def contact_out_of_time(decision_sent: date | None, adviser_contacted: date | None) -> bool:
    """The family contacted the mediation adviser more than 2 months after the decision was sent (reg 33): no
    certificate by right; the family may ask the tribunal for permission to appeal without one."""
    return (
        decision_sent is not None
        and adviser_contacted is not None
        and adviser_contacted > contact_deadline(decision_sent).due
    )


def case_deadlines(facts: CaseFacts) -> dict[str, Deadline]:
    """Every deadline that can be computed from ``facts``, keyed by kind.

    The reg 33 contact deadline and the certificate deadline apply only where a certificate is
    required (see :func:`certificate_required`). The appeal deadline always applies once the
    decision date is known; it uses the certificate's issue date when that is known.
    """
    result: dict[str, Deadline] = {}
    needs_certificate = certificate_required(facts)
    if facts.decision_sent is not None and needs_certificate:
        result["contact"] = contact_deadline(facts.decision_sent)
    if (facts.health_involved or facts.health_only) and facts.la_notified is not None:
        result["icb_notice"] = icb_notice_due(facts.la_notified)
    mediation = mediation_due(
        la_notified=facts.la_notified,
        family_requested=facts.family_requested,
        icb_informed=facts.icb_informed,
        health_only=facts.health_only,
    )
    if mediation is not None:
        result["mediation"] = mediation
    trigger, trigger_date = facts.certificate_trigger, facts.certificate_trigger_date
    out_of_time = contact_out_of_time(facts.decision_sent, facts.adviser_contacted)
    if needs_certificate and not out_of_time and trigger is not None and trigger_date is not None:
        result["certificate"] = certificate_due(trigger_date, trigger)
    if facts.decision_sent is not None:
        result["appeal"] = appeal_deadline(facts.decision_sent, facts.certificate_issued)
    return result
