"""Plain-English times and places, and the at-risk rule: pure, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from web import text
from web.selectors import risk_reasons


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (datetime(2026, 4, 14, 9, tzinfo=UTC), datetime(2026, 4, 14, 12, tzinfo=UTC),
         "Tuesday 14 April 2026, 10am to 1pm"),
        (datetime(2026, 12, 8, 12, tzinfo=UTC), datetime(2026, 12, 8, 14, 30, tzinfo=UTC),
         "Tuesday 8 December 2026, midday to 2:30pm"),
        # The clocks go back on 25 October 2026: 9:30 UTC is 10:30am before and 9:30am after.
        (datetime(2026, 10, 24, 9, 30, tzinfo=UTC), datetime(2026, 10, 24, 11, tzinfo=UTC),
         "Saturday 24 October 2026, 10:30am to midday"),
        (datetime(2026, 10, 26, 9, 30, tzinfo=UTC), datetime(2026, 10, 26, 11, tzinfo=UTC),
         "Monday 26 October 2026, 9:30am to 11am"),
    ],
)  # fmt: skip
def test_it_writes_times_as_people_say_them(start: datetime, end: datetime, expected: str) -> None:
    assert text.when(start, end, "Europe/London") == expected


def test_it_writes_places_with_their_access() -> None:
    assert text.place("County Hall", "Downsbridge", ["step_free"]) == "County Hall, Downsbridge: step-free access"
    assert text.place("Hall", "", ["step_free", "hearing_loop", "parking"]) == (
        "Hall: step-free access, hearing loop and parking"
    )
    assert text.place(None) == "Online"


@pytest.mark.parametrize(
    ("due", "expected"),
    [(date(2026, 11, 27), "due today"), (date(2026, 11, 28), "due tomorrow"), (date(2026, 12, 7), "in 10 days"),
     (date(2026, 11, 26), "1 day overdue"), (date(2026, 11, 20), "7 days overdue"), (None, "")],
)  # fmt: skip
def test_it_counts_days_to_a_deadline(due: date | None, expected: str) -> None:
    assert text.days_left(due, date(2026, 11, 27)) == expected


def test_a_case_is_at_risk_without_a_meeting_near_its_due_date_or_with_a_certificate_due() -> None:
    today = date(2026, 11, 27)
    base = {"certificate_due": None, "certificate_issued_on": None, "today": today}
    assert risk_reasons(state="scheduling", has_meeting=False, mediation_due=date(2026, 12, 4), **base)
    assert not risk_reasons(state="scheduling", has_meeting=False, mediation_due=date(2026, 12, 5), **base)
    assert not risk_reasons(state="scheduling", has_meeting=True, mediation_due=date(2026, 12, 1), **base)
    assert not risk_reasons(state="held", has_meeting=False, mediation_due=date(2026, 12, 1), **base)
    due = {"state": "concluded", "has_meeting": False, "mediation_due": None, "today": today}
    assert risk_reasons(certificate_due=date(2026, 11, 28), certificate_issued_on=None, **due)
    assert risk_reasons(certificate_due=date(2026, 11, 20), certificate_issued_on=None, **due)
    assert not risk_reasons(certificate_due=date(2026, 11, 30), certificate_issued_on=None, **due)
    assert not risk_reasons(certificate_due=date(2026, 11, 20), certificate_issued_on=date(2026, 11, 19), **due)
