"""Slot search for a case through the API: real rules, exceptions, busy time, holidays and notice."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from booking.models import ParticipantUnavailability
from scheduling.models import AvailabilityException, AvailabilityRule, Occupancy
from scheduling.occupancy import resource_for_mediator
from tests.booking import helpers

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Any:
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def _slots(t: dict[str, Any], case: Any, query: str = "") -> dict[str, Any]:
    response = _client(t["coordinator"]).get(f"/api/cases/{case.pk}/slots/?{query}")
    assert response.status_code == 200, response.content
    return response.json()


@time_machine.travel(datetime(2026, 11, 27, 10, tzinfo=UTC), tick=False)
def test_slots_start_after_5_working_days_notice_and_say_who_and_why() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    body = _slots(t, case, "limit=3")
    first = body["slots"][0]
    # Friday 27 Nov + 5 working days = Friday 4 Dec; default hours 09:30–16:30, 3-hour meetings.
    assert first["start"] == "2026-12-04T09:30:00+00:00"
    assert first["end"] == "2026-12-04T12:30:00+00:00"
    assert first["mediator"]["name"] == "Mia"
    assert first["reasons"][0] == "earliest available"
    assert body["mediation_due"] == "2026-12-20"
    assert body["none_before_due"] is False


@time_machine.travel(datetime(2027, 3, 24, 10, tzinfo=UTC), tick=False)
def test_notice_counts_working_days_across_easter() -> None:
    t = helpers.tenant(today=date(2027, 3, 24))
    helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2027, 3, 20))
    # Wed 24 Mar: Thu 25 (1), Good Friday 26 and Easter Monday 29 skipped, Tue 30 (2), Wed 31 (3), Thu 1 (4), Fri 2 (5).
    assert _slots(t, case, "limit=1")["slots"][0]["start"].startswith("2027-04-02T09:30:00+01:00")


@time_machine.travel(datetime(2026, 12, 14, 10, tzinfo=UTC), tick=False)
def test_default_working_hours_skip_christmas_and_the_boxing_day_substitute() -> None:
    t = helpers.tenant(today=date(2026, 12, 14))
    helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 12, 10), short_notice_consent=True)
    body = _slots(t, case, "limit=200&after=2026-12-24T00:00Z&before=2026-12-31T00:00Z")
    days = {s["start"][:10] for s in body["slots"]}
    assert days == {"2026-12-24", "2026-12-29", "2026-12-30"}  # 25 and 28 (Boxing Day substitute) are bank holidays


@time_machine.travel(datetime(2026, 3, 16, 10, tzinfo=UTC), tick=False)
def test_a_local_rule_keeps_its_local_hours_across_the_march_change() -> None:
    t = helpers.tenant(today=date(2026, 3, 16))
    m = helpers.mediator(t)
    resource = resource_for_mediator(m)
    for weekday in range(5):
        AvailabilityRule.objects.create(resource=resource, weekday=weekday, start_time=time(9), end_time=time(12))
    case = helpers.case(t, la_notified=date(2026, 3, 16), officer=False)
    body = _slots(t, case, "limit=50&after=2026-03-26T00:00Z&before=2026-04-01T00:00Z")
    starts = [s["start"] for s in body["slots"]]
    assert "2026-03-27T09:00:00+00:00" in starts  # Friday before the change: GMT
    assert "2026-03-30T09:00:00+01:00" in starts  # Monday after: BST, still 09:00 local
    assert all(s.endswith("09:00:00+00:00") or s.endswith("09:00:00+01:00") for s in starts)


@time_machine.travel(datetime(2026, 11, 27, 10, tzinfo=UTC), tick=False)
def test_a_day_off_busy_meetings_and_the_school_run_remove_times() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    m = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    resource = resource_for_mediator(m)
    AvailabilityException.objects.create(
        resource=resource, kind="off", first_day=date(2026, 12, 4), last_day=date(2026, 12, 4)
    )
    parent = case.participants.get(role="parent")
    ParticipantUnavailability.objects.create(participant=parent, weekday=0, start_time=time(9), end_time=time(10))
    body = _slots(t, case, "limit=1")
    # Friday 4 Dec off; Monday 7 Dec the family cannot do 09:00–10:00, so 10:00 is first.
    assert body["slots"][0]["start"] == "2026-12-07T10:00:00+00:00"


@time_machine.travel(datetime(2026, 11, 27, 10, tzinfo=UTC), tick=False)
def test_holds_block_until_they_expire_and_buffers_are_kept() -> None:
    from booking.models import Offer, OfferSlot

    t = helpers.tenant(today=date(2026, 11, 27))
    m = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    other = helpers.case(t, la_notified=date(2026, 11, 20))
    offer = Offer.objects.create(case=other, token_hash="x" * 64, expires_at=datetime(2026, 12, 1, tzinfo=UTC))
    slot = OfferSlot.objects.create(
        offer=offer,
        rank=1,
        start=datetime(2026, 12, 4, 9, 30, tzinfo=UTC),
        end=datetime(2026, 12, 4, 12, 30, tzinfo=UTC),
        mode="online",
        mediator=m,
    )
    hold = Occupancy.objects.create(
        resource=resource_for_mediator(m),
        kind="hold",
        offer_slot=slot,
        expires_at=offer.expires_at,
        start=datetime(2026, 12, 4, 9, 15, tzinfo=UTC),
        end=datetime(2026, 12, 4, 12, 45, tzinfo=UTC),
    )
    # The hold (12:45 with its buffer) plus the new meeting's 15-minute buffer: 13:00 is the first start that day.
    first = _slots(t, case, "limit=1")["slots"][0]
    assert first["start"] == "2026-12-04T13:00:00+00:00"
    hold.expires_at = datetime(2026, 11, 27, 9, tzinfo=UTC)  # expired: ignored even before the sweeper runs
    hold.save()
    assert _slots(t, case, "limit=1")["slots"][0]["start"] == "2026-12-04T09:30:00+00:00"


@time_machine.travel(datetime(2026, 11, 27, 10, tzinfo=UTC), tick=False)
def test_no_slot_before_the_due_date_offers_the_statutory_path() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 3))  # due 3 December: before the notice allows
    body = _slots(t, case)
    assert body["slots"] == []
    assert body["none_before_due"] is True
    assert body["statutory_path"]["transition"]["body"] == {"to": "not_arranged_30_days"}
    late = _slots(t, case, "allow_late=true&limit=2")
    assert late["slots"] and all(s["late"] for s in late["slots"])
    assert "after the statutory due date" in " ".join(late["slots"][0]["reasons"])


@time_machine.travel(datetime(2026, 11, 27, 10, tzinfo=UTC), tick=False)
def test_the_number_of_queries_does_not_grow_with_the_number_of_mediators() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    case = helpers.case(t, la_notified=date(2026, 11, 20))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            _slots(t, case, "limit=5")
        return len(queries)

    def add(i: int) -> None:
        m = helpers.mediator(t, name=f"M{i}")
        AvailabilityRule.objects.create(
            resource=resource_for_mediator(m), weekday=4, start_time=time(9), end_time=time(17)
        )

    for i in range(3):
        add(i)
    few = count()
    for i in range(3, 30):
        add(i)
    assert count() == few


@time_machine.travel(datetime(2026, 11, 27, 10, tzinfo=UTC), tick=False)
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("duration=0", "duration"),
        ("duration=481", "duration"),
        ("duration=abc", "duration"),
        ("after=2026-12-10T00:00Z&before=2026-12-01T00:00Z", "before"),
        ("after=2026-12-01T00:00Z&before=2027-07-01T00:00Z", "before"),
        ("tz=Europe/Londn", "tz"),
        ("mode=carrier", "mode"),
        ("limit=0", "limit"),
        ("after=2026-02-30T00:00Z", "after"),
        ("allow_late=perhaps", "allow_late"),
    ],
)
def test_bad_search_parameters_are_a_400(query: str, field: str) -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    response = _client(t["coordinator"]).get(f"/api/cases/{case.pk}/slots/?{query}")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]


@time_machine.travel(datetime(2026, 11, 27, 10, tzinfo=UTC), tick=False)
def test_free_busy_shows_times_without_details() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    m = helpers.mediator(t)
    url = f"/api/mediators/{m.pk}/free-busy/?start=2026-12-07T00:00Z&end=2026-12-08T00:00Z"
    body = _client(t["coordinator"]).get(url).json()
    assert body["free"] == [{"start": "2026-12-07T09:30:00+00:00", "end": "2026-12-07T16:30:00+00:00"}]
    assert body["busy"] == []
    bad = _client(t["coordinator"]).get(
        f"/api/mediators/{m.pk}/free-busy/?start=2026-12-08T00:00Z&end=2026-12-07T00:00Z"
    )
    assert bad.status_code == 400


@time_machine.travel(datetime(2026, 11, 27, 10, tzinfo=UTC), tick=False)
def test_a_mediator_manages_their_own_availability() -> None:
    from django.contrib.auth import get_user_model

    t = helpers.tenant(today=date(2026, 11, 27))
    user = get_user_model().objects.create_user("mia", password="pw")
    m = helpers.mediator(t, user=user)
    client = _client(user)
    made = client.post(
        "/api/availability/rules/",
        {"mediator": m.pk, "weekday": 0, "start_time": "10:00", "end_time": "15:00"},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert client.get(f"/api/availability/rules/?resource={made.json()['resource']}").json()["count"] == 1
    bad = client.post(
        "/api/availability/rules/",
        {"mediator": m.pk, "weekday": 0, "start_time": "15:00", "end_time": "10:00"},
        format="json",
    )
    assert bad.status_code == 400 and "end_time" in bad.json()["extra"]["fields"]
    neither = client.post(
        "/api/availability/exceptions/",
        {"kind": "off", "first_day": "2026-12-01", "last_day": "2026-12-01"},
        format="json",
    )
    assert neither.status_code == 400 and "resource" in neither.json()["extra"]["fields"]
    backwards = client.post(
        "/api/availability/exceptions/",
        {"mediator": m.pk, "kind": "off", "first_day": "2026-12-02", "last_day": "2026-12-01"},
        format="json",
    )
    assert backwards.status_code == 400 and "last_day" in backwards.json()["extra"]["fields"]


@time_machine.travel(datetime(2026, 12, 2, 10, tzinfo=UTC), tick=False)
def test_a_weekly_cap_counts_the_meetings_earlier_in_the_week_than_the_search() -> None:
    """A search from Thursday still counts the mediator's meetings on Monday and Tuesday of that week."""
    t = helpers.tenant(today=date(2026, 12, 2))
    m = helpers.mediator(t, max_meetings_per_week=2)
    client = _client(t["coordinator"])
    for day in (14, 15):
        other = helpers.case(t, la_notified=date(2026, 11, 30))
        payload = {"start": f"2026-12-{day}T10:00Z", "end": f"2026-12-{day}T13:00Z", "mediator": m.pk, "mode": "online"}
        assert client.post(f"/api/cases/{other.pk}/meetings/", payload, format="json").status_code == 201
    case = helpers.case(t, la_notified=date(2026, 11, 30), officer=False)
    body = _slots(t, case, "limit=1&after=2026-12-17T00:00Z")
    assert body["slots"][0]["start"] == "2026-12-21T09:30:00+00:00"  # the week of the 14th is full
    earlier = _slots(t, case, "limit=1&after=2026-12-16T00:00Z&before=2026-12-17T00:00Z")
    assert earlier["slots"] == []


@time_machine.travel(datetime(2026, 11, 27, 10, tzinfo=UTC), tick=False)
@pytest.mark.parametrize("limit", [1, 9, 10, 12, 13, 30])
def test_reading_the_window_in_pieces_answers_as_the_whole_window_does(limit: int, monkeypatch: Any) -> None:
    """The first piece (the week from Friday 4 December, the earliest day) ends at midnight after Thursday 10
    December. The mediator works only Thursday evenings with a 60-minute buffer after each meeting, and is busy from
    that midnight: a meeting ending after 23:00 on the 10th is refused, though nothing in the first piece says so."""
    from scheduling import search
    from scheduling.models import BusyBlock
    from scheduling.search import SlotQuery, case_slot_search

    now = datetime(2026, 11, 27, 10, tzinfo=UTC)
    t = helpers.tenant(today=date(2026, 11, 27))
    m = helpers.mediator(t, buffer_after_minutes=60)
    resource = resource_for_mediator(m)
    AvailabilityRule.objects.create(resource=resource, weekday=3, start_time=time(18), end_time=time(23, 59))
    BusyBlock.objects.create(
        resource=resource, start=datetime(2026, 12, 11, 0, tzinfo=UTC), end=datetime(2026, 12, 11, 1, tzinfo=UTC)
    )
    case = helpers.case(t, la_notified=date(2026, 11, 20), officer=False)
    query = SlotQuery(limit=limit)
    found = case_slot_search(case=case, query=query, now=now).slots
    with monkeypatch.context() as whole:
        whole.setattr(search, "FIRST_LOOK_DAYS", ())  # one piece: the whole window at once
        assert found == case_slot_search(case=case, query=query, now=now).slots
    thursday = [s.start.strftime("%H:%M") for s in found if s.start.day == 10]
    assert thursday == [f"{h}:{mm}" for h in ("18", "19") for mm in ("00", "15", "30", "45")][:limit] + (
        ["20:00"] if limit >= 9 else []
    )
    if limit >= 10:
        assert found[9].start == datetime(2026, 12, 17, 18, tzinfo=UTC)  # the next Thursday


@time_machine.travel(datetime(2026, 11, 27, 10, tzinfo=UTC), tick=False)
def test_busy_time_that_begins_in_the_notice_period_still_counts_after_it() -> None:
    """The search does not read the notice period's busy time, but a block begun there and lasting past the earliest
    day (Friday 4 December) still refuses the times it covers."""
    from scheduling.models import BusyBlock

    t = helpers.tenant(today=date(2026, 11, 27))
    m = helpers.mediator(t)
    BusyBlock.objects.create(
        resource=resource_for_mediator(m),
        start=datetime(2026, 11, 28, 0, tzinfo=UTC),
        end=datetime(2026, 12, 8, 0, tzinfo=UTC),
    )
    case = helpers.case(t, la_notified=date(2026, 11, 20), officer=False)
    assert _slots(t, case, "limit=1")["slots"][0]["start"] == "2026-12-08T09:30:00+00:00"
