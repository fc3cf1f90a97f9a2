"""Named cases for the pure slot engine; every expectation is written out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduling.slots import (
    DateException,
    Mediator,
    Person,
    Room,
    SearchRequest,
    WeeklyRule,
    earliest_per_mediator,
    expand_availability,
    find_slots,
    grid_starts,
    intersect,
    intersect_all,
    local_window,
    normalize,
    subtract,
    union,
)

LONDON = ZoneInfo("Europe/London")
HOUR = timedelta(hours=1)
MINUTES_15 = timedelta(minutes=15)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def jan(day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A January 2026 instant: London is on GMT, so local and UTC agree. 5 January is a Monday."""
    return utc(2026, 1, day, hour, minute)


def h(hour: int, minute: int = 0) -> datetime:
    return jan(5, hour, minute)


def whole_window(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    return [(start, end)]


def request(**overrides: object) -> SearchRequest:
    values: dict[str, object] = {"window_start": jan(5), "window_end": jan(10), "duration": HOUR}
    values.update(overrides)
    return SearchRequest(**values)  # type: ignore[arg-type]


def mediator(mediator_id: int | str = 1, **overrides: object) -> Mediator:
    values: dict[str, object] = {"available": [(jan(5, 9), jan(5, 17))], "busy": []}
    values.update(overrides)
    return Mediator(id=mediator_id, **values)  # type: ignore[arg-type]


def starts_of(slots: list) -> list[datetime]:  # type: ignore[type-arg]
    return [slot.start for slot in slots]


def quarter_hours(first: datetime, last: datetime) -> list[datetime]:
    count = (last - first) // MINUTES_15 + 1
    return [first + i * MINUTES_15 for i in range(count)]


# --- interval algebra -----------------------------------------------------------------------------


def test_normalize_sorts_merges_overlapping_and_touching_and_drops_empty() -> None:
    messy = [(h(13), h(14)), (h(9), h(10)), (h(10), h(11)), (h(12), h(12)), (h(9, 30), h(10, 30)), (h(15), h(14))]
    assert normalize(messy) == [(h(9), h(11)), (h(13), h(14))]


def test_normalize_converts_to_utc() -> None:
    summer = datetime(2026, 7, 1, 10, tzinfo=LONDON)
    assert normalize([(summer, summer + HOUR)]) == [(utc(2026, 7, 1, 9), utc(2026, 7, 1, 10))]
    assert normalize([(summer, summer + HOUR)])[0][0].tzinfo is UTC


def test_normalize_orders_repeated_local_times_by_instant() -> None:
    # Two London times that share a zone compare by wall clock, so they must be converted before sorting.
    def london(minute: int, fold: int) -> datetime:
        return datetime(2026, 10, 25, 1, minute, fold=fold, tzinfo=LONDON)  # fold 0: summer time, 1: winter

    found = normalize([(london(0, fold=1), london(1, fold=1)), (london(0, fold=0), london(2, fold=0))])
    assert found == [(utc(2026, 10, 25, 0), utc(2026, 10, 25, 0, 2)), (utc(2026, 10, 25, 1), utc(2026, 10, 25, 1, 1))]


def test_normalize_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        normalize([(datetime(2026, 1, 5, 9), datetime(2026, 1, 5, 10))])  # noqa: DTZ001


@pytest.mark.parametrize(
    ("a", "b", "expected_union", "expected_intersection", "expected_difference"),
    [
        ([], [], [], [], []),
        ([(h(9), h(12))], [], [(h(9), h(12))], [], [(h(9), h(12))]),
        ([], [(h(9), h(12))], [(h(9), h(12))], [], []),
        ([(h(9), h(12))], [(h(12), h(13))], [(h(9), h(13))], [], [(h(9), h(12))]),
        ([(h(9), h(12))], [(h(10), h(11))], [(h(9), h(12))], [(h(10), h(11))], [(h(9), h(10)), (h(11), h(12))]),
        ([(h(9), h(12))], [(h(8), h(10))], [(h(8), h(12))], [(h(9), h(10))], [(h(10), h(12))]),
        ([(h(9), h(12))], [(h(8), h(13))], [(h(8), h(13))], [(h(9), h(12))], []),
        (
            [(h(9), h(10)), (h(11), h(12)), (h(13), h(14))],
            [(h(9, 30), h(13, 30))],
            [(h(9), h(14))],
            [(h(9, 30), h(10)), (h(11), h(12)), (h(13), h(13, 30))],
            [(h(9), h(9, 30)), (h(13, 30), h(14))],
        ),
        (
            [(h(8), h(18))],
            [(h(9), h(10)), (h(11), h(12)), (h(17), h(19))],
            [(h(8), h(19))],
            [(h(9), h(10)), (h(11), h(12)), (h(17), h(18))],
            [(h(8), h(9)), (h(10), h(11)), (h(12), h(17))],
        ),
    ],
)
def test_union_intersect_subtract(
    a: list, b: list, expected_union: list, expected_intersection: list, expected_difference: list
) -> None:
    assert union(a, b) == expected_union
    assert intersect(a, b) == expected_intersection
    assert subtract(a, b) == expected_difference


def test_intersect_all() -> None:
    lists = [[(h(8), h(12)), (h(13), h(17))], [(h(9), h(16))], [(h(10), h(14))]]
    assert intersect_all(lists) == [(h(10), h(12)), (h(13), h(14))]
    assert intersect_all([[(h(9), h(10))], []]) == []
    assert intersect_all([]) == []


# --- weekly rules across the clock changes --------------------------------------------------------

# (the change Sunday, UTC offset in hours the week before, on the day, the week after)
CHANGE_SUNDAYS = [
    (date(2026, 3, 29), 0, 1, 1),
    (date(2026, 10, 25), 1, 0, 0),
    (date(2027, 3, 28), 0, 1, 1),
    (date(2027, 10, 31), 1, 0, 0),
]


@pytest.mark.parametrize(("sunday", "before", "on_the_day", "after"), CHANGE_SUNDAYS)
def test_nine_to_five_stays_nine_to_five_local_around_the_change(
    sunday: date, before: int, on_the_day: int, after: int
) -> None:
    rule = WeeklyRule(weekday=6, start=time(9), end=time(17))
    week = timedelta(days=7)
    window_start = datetime.combine(sunday - week, time(0), UTC) - 2 * HOUR
    found = expand_availability([rule], [], window_start, window_start + 3 * week)
    expected = []
    for day, offset in ((sunday - week, before), (sunday, on_the_day), (sunday + week, after)):
        start = datetime.combine(day, time(9), UTC) - offset * HOUR
        expected.append((start, start + 8 * HOUR))
    assert found == expected
    for start, end in found:
        assert (start.astimezone(LONDON).time(), end.astimezone(LONDON).time()) == (time(9), time(17))


@pytest.mark.parametrize(("sunday", "before", "on_the_day", "after"), CHANGE_SUNDAYS)
def test_a_half_past_midnight_to_three_rule_on_the_change_day(
    sunday: date, before: int, on_the_day: int, after: int
) -> None:
    rule = WeeklyRule(weekday=6, start=time(0, 30), end=time(3))
    midnight = datetime.combine(sunday, time(0), UTC)
    [(start, end)] = expand_availability([rule], [], midnight - 3 * HOUR, midnight + 12 * HOUR)
    if on_the_day == 1:  # spring forward at 01:00 UTC: 00:30 GMT to 03:00 BST is 1.5 hours
        assert (start, end) == (midnight + timedelta(minutes=30), midnight + 2 * HOUR)
    else:  # fall back at 01:00 UTC: 00:30 BST to 03:00 GMT is 3.5 hours
        assert (start, end) == (midnight - timedelta(minutes=30), midnight + 3 * HOUR)


def test_a_start_in_the_spring_gap_is_clamped_to_the_change() -> None:
    assert local_window("Europe/London", date(2026, 3, 29), time(1, 30), time(3)) == (
        utc(2026, 3, 29, 1),
        utc(2026, 3, 29, 2),
    )


def test_an_end_in_the_spring_gap_is_clamped_to_the_change() -> None:
    assert local_window("Europe/London", date(2026, 3, 29), time(0), time(1, 30)) == (
        utc(2026, 3, 29, 0),
        utc(2026, 3, 29, 1),
    )


def test_a_window_inside_the_spring_gap_is_empty() -> None:
    rule = WeeklyRule(weekday=6, start=time(1, 15), end=time(1, 45))
    assert expand_availability([rule], [], utc(2026, 3, 28), utc(2026, 3, 30)) == []


def test_an_ambiguous_start_is_its_first_occurrence_and_an_ambiguous_end_its_second() -> None:
    sunday = date(2026, 10, 25)
    assert local_window("Europe/London", sunday, time(1, 30), time(3)) == (
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 3),
    )
    assert local_window("Europe/London", sunday, time(0), time(1, 30)) == (
        utc(2026, 10, 24, 23),
        utc(2026, 10, 25, 1, 30),
    )


def test_an_end_at_the_first_repeated_time_is_its_first_occurrence() -> None:
    # After 01:00 BST the clocks never again show a time before 01:00, so midnight to 01:00 is one hour.
    assert local_window("Europe/London", date(2026, 10, 25), time(0), time(1)) == (
        utc(2026, 10, 24, 23),
        utc(2026, 10, 25, 0),
    )


@pytest.mark.parametrize(("sunday", "before", "on_the_day", "after"), CHANGE_SUNDAYS)
def test_grid_starts_on_the_change_day(sunday: date, before: int, on_the_day: int, after: int) -> None:
    day_start = datetime.combine(sunday, time(0), UTC) - before * HOUR
    day_end = datetime.combine(sunday + timedelta(days=1), time(0), UTC) - on_the_day * HOUR
    starts = grid_starts(day_start, day_end)
    local = [s.astimezone(LONDON) for s in starts]
    assert len({(t.hour, t.minute) for t in local}) == len(starts)
    if on_the_day == 1:  # 23 hours: 01:00-01:59 does not exist, so no start there
        assert len(starts) == 23 * 4
        assert not [t for t in local if t.hour == 1]
        assert starts == quarter_hours(day_start, day_end - MINUTES_15)
    else:  # 25 hours: 01:00-01:59 happens twice and is offered once, the first time
        assert len(starts) == 24 * 4
        change = datetime.combine(sunday, time(1), UTC)
        assert starts == quarter_hours(day_start, change - MINUTES_15) + quarter_hours(
            change + HOUR, day_end - MINUTES_15
        )
        assert [t.fold for t in local if t.hour == 1] == [0, 0, 0, 0]


def test_find_slots_uses_the_grid_on_the_autumn_change_day() -> None:
    day_start, day_end = utc(2026, 10, 24, 23), utc(2026, 10, 26)
    req = SearchRequest(window_start=day_start, window_end=day_end, duration=MINUTES_15, limit=500)
    everyone = whole_window(day_start, day_end)
    slots = find_slots(
        req,
        people=[Person("family", everyone, [])],
        mediators=[Mediator("m", everyone, [])],
        rooms=[],
        now=day_start,
    )
    assert starts_of(slots) == grid_starts(day_start, day_end)
    assert utc(2026, 10, 25, 0) in starts_of(slots)
    assert utc(2026, 10, 25, 1) not in starts_of(slots)


# --- exceptions, holidays, validity ---------------------------------------------------------------

WEEKDAYS_9_TO_5 = [WeeklyRule(weekday=d, start=time(9), end=time(17)) for d in range(5)]


def test_closed_days_remove_weekly_hours_but_extra_windows_still_add() -> None:
    extra = DateException(date(2026, 1, 6), date(2026, 1, 6), "extra", time(18), time(19))
    found = expand_availability(WEEKDAYS_9_TO_5, [extra], jan(5), jan(8), closed_days=frozenset({date(2026, 1, 6)}))
    assert found == [(jan(5, 9), jan(5, 17)), (jan(6, 18), jan(6, 19)), (jan(7, 9), jan(7, 17))]


def test_off_exceptions_remove_whole_days_or_windows() -> None:
    exceptions = [
        DateException(date(2026, 1, 5), date(2026, 1, 6), "off"),
        DateException(date(2026, 1, 7), date(2026, 1, 7), "off", time(12), time(14)),
    ]
    found = expand_availability(WEEKDAYS_9_TO_5, exceptions, jan(5), jan(9))
    assert found == [(jan(7, 9), jan(7, 12)), (jan(7, 14), jan(7, 17)), (jan(8, 9), jan(8, 17))]


def test_validity_dates_are_inclusive_and_midnight_ends_the_day() -> None:
    rule = WeeklyRule(
        weekday=0, start=time(20), end=time(0), valid_from=date(2026, 1, 12), valid_until=date(2026, 1, 19)
    )
    found = expand_availability([rule], [], jan(1), jan(31))
    assert found == [(jan(12, 20), jan(13)), (jan(19, 20), jan(20))]


def test_expansion_is_clipped_to_the_window() -> None:
    found = expand_availability(WEEKDAYS_9_TO_5, [], jan(5, 10), jan(6, 12))
    assert found == [(jan(5, 10), jan(5, 17)), (jan(6, 9), jan(6, 12))]


def test_rules_in_other_zones_are_expanded_in_their_own_local_time() -> None:
    rule = WeeklyRule(weekday=0, start=time(9), end=time(10), tz="America/New_York")
    assert expand_availability([rule], [], jan(5), jan(6)) == [(jan(5, 14), jan(5, 15))]


# --- buffers and caps -------------------------------------------------------------------------------


def test_buffers_keep_the_meeting_away_from_busy_time_but_may_leave_availability() -> None:
    m = mediator(busy=[(h(12), h(13))], buffer_before=timedelta(minutes=30), buffer_after=MINUTES_15)
    slots = find_slots(request(limit=100), people=[], mediators=[m], rooms=[], now=jan(1))
    assert starts_of(slots) == quarter_hours(h(9), h(10, 45)) + quarter_hours(h(13, 30), h(16))


def test_existing_meetings_are_busy_time() -> None:
    m = mediator(meetings=[(h(11), h(12))])
    slots = find_slots(request(limit=100), people=[], mediators=[m], rooms=[], now=jan(1))
    assert starts_of(slots) == quarter_hours(h(9), h(10)) + quarter_hours(h(12), h(16))


def week_of_mediator(**overrides: object) -> Mediator:
    days = [(jan(d, 9), jan(d, 17)) for d in (5, 6, 7, 8, 9, 12, 13)]
    return mediator(available=days, **overrides)


def test_a_day_at_its_cap_gets_no_more_meetings() -> None:
    m = week_of_mediator(meetings=[(jan(5, 9), jan(5, 10))], max_per_day=1)
    slots = find_slots(request(duration=3 * HOUR, limit=1), people=[], mediators=[m], rooms=[], now=jan(1))
    assert starts_of(slots) == [jan(6, 9)]


def test_a_day_below_its_cap_still_takes_meetings() -> None:
    m = week_of_mediator(meetings=[(jan(5, 9), jan(5, 10))], max_per_day=2)
    slots = find_slots(request(duration=3 * HOUR, limit=1), people=[], mediators=[m], rooms=[], now=jan(1))
    assert starts_of(slots) == [jan(5, 10)]


def test_a_week_at_its_cap_gets_no_more_meetings() -> None:
    meetings = [(jan(5, 9), jan(5, 10)), (jan(6, 9), jan(6, 10))]
    m = week_of_mediator(meetings=meetings, max_per_week=2)
    req = request(window_end=jan(14), duration=3 * HOUR, limit=1)
    assert starts_of(find_slots(req, people=[], mediators=[m], rooms=[], now=jan(1))) == [jan(12, 9)]


def test_caps_count_days_in_the_mediators_local_time() -> None:
    # 23:30 UTC on 1 June is 00:30 on 2 June in London, so it fills 2 June, not 1 June.
    june = [(utc(2026, 6, d, 8), utc(2026, 6, d, 16)) for d in (1, 2, 3)]
    m = mediator(available=june, meetings=[(utc(2026, 6, 1, 23, 30), utc(2026, 6, 2))], max_per_day=1)
    req = request(window_start=utc(2026, 6, 1), window_end=utc(2026, 6, 4), duration=3 * HOUR, limit=100)
    days = {
        s.astimezone(LONDON).date() for s in starts_of(find_slots(req, people=[], mediators=[m], rooms=[], now=jan(1)))
    }
    assert days == {date(2026, 6, 1), date(2026, 6, 3)}


def test_a_cap_of_zero_means_no_meetings() -> None:
    m = mediator(max_per_week=0)
    assert find_slots(request(), people=[], mediators=[m], rooms=[], now=jan(1)) == []


# --- bounds: now, notice, due date ----------------------------------------------------------------


def test_starts_are_never_before_now_and_sit_on_the_grid() -> None:
    slots = find_slots(request(limit=2), people=[], mediators=[mediator()], rooms=[], now=h(10, 7))
    assert starts_of(slots) == [h(10, 15), h(10, 30)]


def test_starts_are_never_before_the_notice_point() -> None:
    slots = find_slots(request(earliest_start=h(14), limit=1), people=[], mediators=[mediator()], rooms=[], now=jan(1))
    assert starts_of(slots) == [h(14)]


def test_ends_are_never_after_the_due_date_unless_late_is_allowed() -> None:
    req = request(latest_end=h(12), limit=100)
    slots = find_slots(req, people=[], mediators=[mediator()], rooms=[], now=jan(1))
    assert starts_of(slots) == quarter_hours(h(9), h(11))
    assert not any(slot.late for slot in slots)


def test_late_slots_are_flagged_and_explained() -> None:
    req = request(latest_end=h(12), allow_late=True, limit=100)
    slots = find_slots(req, people=[], mediators=[mediator()], rooms=[], now=jan(1))
    assert starts_of(slots) == quarter_hours(h(9), h(16))
    assert [s.start for s in slots if s.late] == quarter_hours(h(11, 15), h(16))
    assert all("after the statutory due date" in s.reasons for s in slots if s.late)
    assert not any("after the statutory due date" in s.reasons for s in slots if not s.late)


def test_every_person_must_be_free() -> None:
    family = Person("family", whole_window(jan(5), jan(6)), busy=[(h(8), h(10)), (h(14, 30), h(15, 30))])
    officer = Person("officer", [(h(9), h(13)), (h(14), h(18))], busy=[])
    req = request(limit=100)
    slots = find_slots(req, people=[family, officer], mediators=[mediator()], rooms=[], now=jan(1))
    assert starts_of(slots) == quarter_hours(h(10), h(12)) + quarter_hours(h(15, 30), h(16))


# --- rooms and modes --------------------------------------------------------------------------------

DAY = whole_window(jan(5), jan(6))


def rooms_for_a_morning() -> list[Room]:
    return [
        Room(3, "venue-b", DAY, busy=[], features=frozenset({"step_free", "hearing_loop"})),
        Room(2, "venue-a", DAY, busy=[(h(9), h(10))], features=frozenset({"step_free"})),
        Room(1, "venue-a", DAY, busy=[], features=frozenset()),
    ]


def test_in_person_needs_a_room_with_the_required_features_first_by_id() -> None:
    req = request(mode="in_person", required_features=frozenset({"step_free"}), limit=100)
    slots = find_slots(req, people=[], mediators=[mediator()], rooms=rooms_for_a_morning(), now=jan(1))
    assert {(s.start, s.room_id, s.venue_id) for s in slots if s.start in (h(9), h(10))} == {
        (h(9), 3, "venue-b"),
        (h(10), 2, "venue-a"),
    }
    assert all(s.mode == "in_person" for s in slots)


def test_in_person_with_no_suitable_room_finds_nothing() -> None:
    req = request(mode="in_person", required_features=frozenset({"induction_loop"}))
    assert find_slots(req, people=[], mediators=[mediator()], rooms=rooms_for_a_morning(), now=jan(1)) == []


def test_online_needs_everyone_able_to_meet_online() -> None:
    req = request(mode="online", online_ok=False)
    assert find_slots(req, people=[], mediators=[mediator()], rooms=rooms_for_a_morning(), now=jan(1)) == []


def test_any_mode_offers_online_without_a_preference() -> None:
    slots = find_slots(request(limit=1), people=[], mediators=[mediator()], rooms=rooms_for_a_morning(), now=jan(1))
    assert (slots[0].mode, slots[0].room_id) == ("online", None)


def test_any_mode_follows_the_preferred_mode_when_it_can() -> None:
    req = request(preferred_mode="in_person", required_features=frozenset({"hearing_loop"}), limit=100)
    room = Room(7, "venue", DAY, busy=[(h(11), h(17))], features=frozenset({"hearing_loop"}))
    slots = find_slots(req, people=[], mediators=[mediator()], rooms=[room], now=jan(1))
    by_start = {s.start: s for s in slots}
    assert (by_start[h(10)].mode, by_start[h(10)].room_id) == ("in_person", 7)
    assert "matches the family's preferred mode" in by_start[h(10)].reasons
    assert (by_start[h(10, 15)].mode, by_start[h(10, 15)].room_id) == ("online", None)
    assert "the family's preferred mode is not available at this time" in by_start[h(10, 15)].reasons


def test_a_mediator_who_only_meets_in_person_needs_a_free_room() -> None:
    room = Room(1, "venue", [(h(13), h(17))], busy=[])
    slots = find_slots(request(limit=100), people=[], mediators=[mediator(online=False)], rooms=[room], now=jan(1))
    assert starts_of(slots) == quarter_hours(h(13), h(16))
    assert {s.mode for s in slots} == {"in_person"}


def test_the_preferred_mode_comes_before_fairness() -> None:
    online_only = mediator("a", in_person=False, recent_assignments=0.0)
    in_person = mediator("b", recent_assignments=5.0)
    room = Room(1, "venue", DAY, busy=[])
    req = request(preferred_mode="in_person", limit=1)
    [slot] = find_slots(req, people=[], mediators=[online_only, in_person], rooms=[room], now=jan(1))
    assert (slot.start, slot.mediator_id, slot.mode) == (h(9), "b", "in_person")
    assert "mediator has the fewest recent assignments of those free at this time" in slot.reasons


def test_a_mediator_who_only_works_online_is_not_offered_in_person() -> None:
    req = request(mode="in_person")
    m = mediator(in_person=False)
    assert find_slots(req, people=[], mediators=[m], rooms=rooms_for_a_morning(), now=jan(1)) == []


# --- ranking, reasons, limit ------------------------------------------------------------------------


def test_the_fairest_mediator_takes_each_start_then_the_lowest_id() -> None:
    busy_one = mediator("b", recent_assignments=3.0)
    light_one = mediator("c", recent_assignments=1.0, available=[(h(11), h(17))])
    twin = mediator("a", recent_assignments=3.0)
    slots = find_slots(request(limit=100), people=[], mediators=[busy_one, light_one, twin], rooms=[], now=jan(1))
    by_start = {s.start: s for s in slots}
    assert by_start[h(9)].mediator_id == "a"
    assert "mediator has the fewest recent assignments of those free at this time" in by_start[h(9)].reasons
    assert by_start[h(11)].mediator_id == "c"
    assert "mediator has the fewest recent assignments" in by_start[h(11)].reasons


def test_slots_are_earliest_first_with_scores_in_the_same_order() -> None:
    slots = find_slots(request(limit=20), people=[], mediators=[mediator()], rooms=[], now=jan(1))
    assert starts_of(slots) == sorted(starts_of(slots))
    scores = [s.score for s in slots]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)
    assert slots[0].reasons[0] == "earliest available"
    assert "mediator has the fewest recent assignments" in slots[0].reasons


def test_preferred_times_raise_the_score_and_say_so() -> None:
    req = request(preferred_local_windows=((time(10), time(11)),), limit=100)
    slots = {s.start: s for s in find_slots(req, people=[], mediators=[mediator()], rooms=[], now=jan(1))}
    assert "matches the family's preferred time" in slots[h(10, 45)].reasons
    assert "outside the family's preferred times" in slots[h(11)].reasons
    assert slots[h(10, 45)].score - slots[h(11)].score > 15


def test_the_limit_caps_the_number_of_slots() -> None:
    assert len(find_slots(request(limit=3), people=[], mediators=[mediator()], rooms=[], now=jan(1))) == 3
    assert find_slots(request(limit=0), people=[], mediators=[mediator()], rooms=[], now=jan(1)) == []


def test_a_stale_calendar_is_flagged() -> None:
    [slot] = find_slots(request(limit=1), people=[], mediators=[mediator(stale_calendar=True)], rooms=[], now=jan(1))
    assert slot.stale_calendar
    assert "the mediator's calendar may be out of date" in slot.reasons


def test_earliest_per_mediator() -> None:
    early = mediator(1)
    later = mediator(2, busy=[(h(9), h(14))])
    online_only = mediator(3, in_person=False)
    room = Room(1, "venue", DAY, busy=[])
    found = earliest_per_mediator(
        request(mode="in_person"), people=[], mediators=[early, later, online_only], rooms=[room], now=jan(1)
    )
    assert {k: (v.start, v.mediator_id, v.room_id) if v else None for k, v in found.items()} == {
        1: (h(9), 1, 1),
        2: (h(14), 2, 1),
        3: None,
    }
    assert found[1] is not None and found[1].reasons[0] == "earliest available for this mediator"


# --- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"window_end": jan(4)}, "window_end"),
        ({"duration": timedelta(0)}, "duration"),
        ({"grid": timedelta(minutes=7, seconds=30)}, "grid"),
        ({"grid_tz": "Europe/Londres"}, "zone"),
        ({"mode": "telepathy"}, "mode"),
        ({"window_start": datetime(2026, 1, 5)}, "naive"),  # noqa: DTZ001
        ({"preferred_local_windows": ((time(12), time(11)),)}, "after its start"),
    ],
)
def test_bad_requests_are_refused_clearly(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        request(**overrides)


def test_bad_rules_and_exceptions_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="after its start"):
        WeeklyRule(weekday=0, start=time(17), end=time(9))
    with pytest.raises(ValueError, match="weekday"):
        WeeklyRule(weekday=7, start=time(9), end=time(17))
    with pytest.raises(ValueError, match="zone"):
        WeeklyRule(weekday=0, start=time(9), end=time(17), tz="Mars/Olympus")
    with pytest.raises(ValueError, match="both"):
        DateException(date(2026, 1, 5), date(2026, 1, 5), "off", start=time(9))


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        find_slots(request(), people=[], mediators=[], rooms=[], now=datetime(2026, 1, 1))  # noqa: DTZ001
