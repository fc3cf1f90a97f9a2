"""Property tests: the slot engine against the brute-force minute-grid oracle, around clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.slots import (
    DateException,
    Interval,
    Mediator,
    Person,
    Room,
    SearchRequest,
    Slot,
    WeeklyRule,
    earliest_per_mediator,
    expand_availability,
    find_slots,
    grid_starts,
    intersect,
    intersect_all,
    normalize,
    subtract,
    union,
)
from tests.scheduling import oracle

MINUTE = timedelta(minutes=1)
ZONES = ["Europe/London", "America/New_York", "Australia/Lord_Howe"]
# London's changes in 2026 and 2027, New York's in 2026, and Lord Howe's half-hour changes in 2026.
CHANGES = [
    (date(2026, 3, 29), "Europe/London"),
    (date(2026, 10, 25), "Europe/London"),
    (date(2027, 3, 28), "Europe/London"),
    (date(2027, 10, 31), "Europe/London"),
    (date(2026, 3, 8), "America/New_York"),
    (date(2026, 11, 1), "America/New_York"),
    (date(2026, 4, 5), "Australia/Lord_Howe"),
    (date(2026, 10, 4), "Australia/Lord_Howe"),
]
# Times in and around the gaps and repeats of those changes.
INTERESTING_TIMES = [time(m // 60, m % 60) for m in (0, 30, 60, 75, 90, 105, 119, 120, 135, 150, 180, 540)]
FEATURES = ["step_free", "hearing_loop"]
ZONE_CHOICES: list[str | None] = [None, None, None, *ZONES]  # None: the zone that changes
QUARTER_HOURS = 15


class Scene(NamedTuple):
    """A search window around one clock change, and the zone that changes."""

    start: datetime
    end: datetime
    change_day: date
    zone: str


def whole_minutes(count: int) -> timedelta:
    return count * MINUTE


# Hypothesis builds a strategy object for every call of a parameterised strategy; the helpers below
# take ``draw`` instead and use only fixed strategies, which keeps generation cheap.


def often(draw: st.DrawFn) -> bool:
    """True three times in four, so that most cases still leave some common free time."""
    return draw(st.integers(0, 3)) < 3


def scene(draw: st.DrawFn, max_days: int, shortest: int = 60) -> Scene:
    day, zone = draw(st.sampled_from(CHANGES))
    start = datetime.combine(day, time(0), UTC) + whole_minutes(draw(st.integers(-36 * 60, 6 * 60)))
    end = start + whole_minutes(draw(st.integers(shortest, max_days * 24 * 60)))
    return Scene(start, end, day, zone)


def zone(draw: st.DrawFn, where: Scene) -> str:
    return draw(st.sampled_from(ZONE_CHOICES)) or where.zone


def local_time(draw: st.DrawFn) -> time:
    if often(draw):
        return draw(st.sampled_from(INTERESTING_TIMES))
    minute = draw(st.integers(0, 24 * 60 - 1))
    return time(minute // 60, minute % 60)


def local_window(draw: st.DrawFn) -> tuple[time, time]:
    a, b = local_time(draw), local_time(draw)
    if a == b or b == time(0):
        return a, time(0)  # to midnight
    return (a, b) if a < b else (b, a)


def near(draw: st.DrawFn, where: Scene) -> date:
    return where.change_day + timedelta(days=draw(st.integers(-2, 2)))


def maybe_near(draw: st.DrawFn, where: Scene) -> date | None:
    return near(draw, where) if draw(st.booleans()) else None


def weekly_rule(draw: st.DrawFn, where: Scene) -> WeeklyRule:
    start, end = local_window(draw)
    valid_from, valid_until = maybe_near(draw, where), maybe_near(draw, where)
    if valid_from and valid_until and valid_from > valid_until:
        valid_from, valid_until = valid_until, valid_from
    return WeeklyRule(
        weekday=(where.change_day if often(draw) else near(draw, where)).weekday(),
        start=start,
        end=end,
        tz=zone(draw, where),
        valid_from=valid_from,
        valid_until=valid_until,
    )


def date_exception(draw: st.DrawFn, where: Scene) -> DateException:
    first = near(draw, where)
    start, end = local_window(draw) if draw(st.booleans()) else (None, None)
    return DateException(
        first_day=first,
        last_day=first + timedelta(days=draw(st.integers(0, 2))),
        kind=draw(st.sampled_from(["off", "extra"])),
        start=start,
        end=end,
        tz=zone(draw, where),
    )


@st.composite
def expansion_cases(draw: st.DrawFn) -> tuple[list[WeeklyRule], list[DateException], Scene, frozenset[date]]:
    where = scene(draw, max_days=3)
    rules = [weekly_rule(draw, where) for _ in range(draw(st.integers(1, 4)))]
    exceptions = [date_exception(draw, where) for _ in range(draw(st.integers(0, 3)))]
    closed = frozenset(near(draw, where) for _ in range(draw(st.integers(0, 2))))
    return rules, exceptions, where, closed


def assert_normalized(intervals: list[Interval]) -> None:
    for start, end in intervals:
        assert start.tzinfo is UTC and start < end
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        assert end < start


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(expansion_cases())
def test_expand_availability_matches_the_oracle(
    case: tuple[list[WeeklyRule], list[DateException], Scene, frozenset[date]],
) -> None:
    rules, exceptions, where, closed = case
    start, end = where.start, where.end
    found = expand_availability(rules, exceptions, start, end, closed_days=closed)
    assert_normalized(found)
    assert oracle.minutes_of(found) == oracle.expand(rules, exceptions, start, end, closed)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.data(), st.sampled_from([5, 15, 20, 25, 45, 60, 90]))
def test_grid_starts_match_the_oracle(data: st.DataObject, step: int) -> None:
    where = scene(data.draw, max_days=2)
    found = grid_starts(where.start, where.end, grid=whole_minutes(step), tz=where.zone)
    assert [oracle.to_minute(s) for s in found] == oracle.grid(where.start, where.end, step, where.zone)


# --- interval algebra against sets of minutes ---------------------------------------------------

BASE = datetime(2026, 10, 25, tzinfo=UTC)  # the autumn change, so London times repeat
LONDON = ZoneInfo("Europe/London")
raw_intervals = st.lists(st.tuples(st.integers(0, 240), st.integers(-5, 60), st.booleans()), max_size=8)


def as_intervals(raw: list[tuple[int, int, bool]]) -> list[Interval]:
    result = []
    for offset, length, in_london in raw:
        start = BASE + whole_minutes(offset)
        end = start + whole_minutes(length)
        if in_london:  # the same instants, written in another zone
            start, end = start.astimezone(LONDON), end.astimezone(LONDON)
        result.append((start, end))
    return result


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(raw_intervals, raw_intervals, st.lists(raw_intervals, max_size=3))
def test_interval_algebra_matches_sets_of_minutes(
    raw_a: list[tuple[int, int, bool]], raw_b: list[tuple[int, int, bool]], raw_more: list[list[tuple[int, int, bool]]]
) -> None:
    a, b = normalize(as_intervals(raw_a)), normalize(as_intervals(raw_b))
    more = [normalize(as_intervals(raw)) for raw in raw_more]
    set_a, set_b = oracle.minutes_of(as_intervals(raw_a)), oracle.minutes_of(as_intervals(raw_b))
    for result, expected in (
        (a, set_a),
        (union(a, b), set_a | set_b),
        (intersect(a, b), set_a & set_b),
        (subtract(a, b), set_a - set_b),
        (intersect_all([a, b, *more]), set.intersection(set_a, set_b, *(oracle.minutes_of(m) for m in more))),
    ):
        assert_normalized(result)
        assert oracle.minutes_of(result) == expected


# --- the search against the oracle --------------------------------------------------------------

Case = tuple[SearchRequest, list[Person], list[Mediator], list[Room], datetime]


def offset(draw: st.DrawFn, span: int) -> int:
    """Minutes into the window: often on a quarter hour, so that edges meet grid starts exactly."""
    minutes = draw(st.integers(0, span))
    return minutes - minutes % QUARTER_HOURS if draw(st.booleans()) else minutes


def interval_list(draw: st.DrawFn, where: Scene, longest: int, max_size: int, min_size: int = 0) -> list[Interval]:
    span = (where.end - where.start) // MINUTE
    result = []
    for _ in range(draw(st.integers(min_size, max_size))):
        first = where.start + whole_minutes(offset(draw, span))
        result.append((first, first + whole_minutes(max(offset(draw, longest), 1))))
    return result


def availability(draw: st.DrawFn, where: Scene) -> list[Interval]:
    if often(draw):
        return [(where.start, where.end)]
    return interval_list(draw, where, 16 * 60, 4, min_size=1)


def mediator(draw: st.DrawFn, mediator_id: int | str, where: Scene) -> Mediator:
    meetings = [(s, s + timedelta(hours=1)) for s, _ in interval_list(draw, where, 1, 3)]
    return Mediator(
        id=mediator_id,
        available=availability(draw, where),
        busy=interval_list(draw, where, 3 * 60, 3),
        buffer_before=whole_minutes(draw(st.sampled_from([0, 10, 15, 30]))),
        buffer_after=whole_minutes(draw(st.sampled_from([0, 15, 20]))),
        meetings=meetings,
        max_per_day=draw(st.sampled_from([None, None, None, 0, 1, 2])),
        max_per_week=draw(st.sampled_from([None, None, None, 1, 3])),
        tz=zone(draw, where),
        online=often(draw),
        in_person=often(draw),
        recent_assignments=draw(st.sampled_from([0.0, 0.0, 1.0, 2.5])),
        stale_calendar=draw(st.booleans()),
    )


def room(draw: st.DrawFn, room_id: int | str, where: Scene) -> Room:
    return Room(
        id=room_id,
        venue_id=f"venue-{draw(st.integers(1, 2))}",
        available=availability(draw, where),
        busy=interval_list(draw, where, 3 * 60, 3),
        features=frozenset(FEATURES if often(draw) else draw(st.sampled_from([[], FEATURES[:1], FEATURES[1:]]))),
    )


def person(draw: st.DrawFn, person_id: int, where: Scene) -> Person:
    return Person(id=person_id, available=availability(draw, where), busy=interval_list(draw, where, 3 * 60, 2))


def unique_ids(draw: st.DrawFn, counts: list[int]) -> list[int | str]:
    count = draw(st.sampled_from(counts))
    ids = draw(st.permutations([1, 2, 3, 10, "a", "b"]))  # list order and id order often differ
    return ids[:count]


def instant(draw: st.DrawFn, where: Scene) -> datetime | None:
    return None if often(draw) else where.start + whole_minutes(offset(draw, (where.end - where.start) // MINUTE))


@st.composite
def search_cases(draw: st.DrawFn) -> Case:
    where = scene(draw, max_days=2, shortest=8 * 60)
    req = SearchRequest(
        window_start=where.start,
        window_end=where.end,
        duration=whole_minutes(draw(st.sampled_from([15, 30, 60, 90, 180]))),
        grid=whole_minutes(draw(st.sampled_from([5, 15, 20, 30, 45, 60]))),
        grid_tz=zone(draw, where),
        earliest_start=instant(draw, where),
        latest_end=instant(draw, where),
        allow_late=draw(st.booleans()),
        mode=draw(st.sampled_from(["any", "any", "online", "in_person"])),
        online_ok=often(draw),
        required_features=frozenset() if often(draw) else frozenset(draw(st.sampled_from([FEATURES[:1], FEATURES]))),
        preferred_mode=draw(st.sampled_from([None, "online", "in_person"])),
        preferred_local_windows=(local_window(draw),) if draw(st.booleans()) else (),
        limit=draw(st.integers(1, 40)),
    )
    now = where.start + whole_minutes(draw(st.integers(-90, (where.end - where.start) // MINUTE // 2)))
    the_people = [person(draw, i, where) for i in range(draw(st.integers(0, 3)))]
    the_mediators = [mediator(draw, i, where) for i in unique_ids(draw, [1, 2, 2, 3, 3])]
    the_rooms = [room(draw, i, where) for i in unique_ids(draw, [0, 1, 1, 2, 2])]
    return req, the_people, the_mediators, the_rooms, now


def comparable(slot: Slot) -> oracle.OracleSlot:
    return oracle.OracleSlot(slot.start, slot.end, slot.mediator_id, slot.mode, slot.room_id, slot.venue_id, slot.late)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(search_cases())
def test_find_slots_matches_the_oracle(case: Case) -> None:
    req, the_people, the_mediators, the_rooms, now = case
    found = find_slots(req, people=the_people, mediators=the_mediators, rooms=the_rooms, now=now)
    expected = oracle.find_slots(req, people=the_people, mediators=the_mediators, rooms=the_rooms, now=now)
    assert [comparable(slot) for slot in found] == expected
    scores = [slot.score for slot in found]
    assert all(a > b for a, b in zip(scores, scores[1:], strict=False))
    for slot in found:
        assert ("after the statutory due date" in slot.reasons) == slot.late


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(search_cases())
def test_earliest_per_mediator_matches_the_oracle(case: Case) -> None:
    req, the_people, the_mediators, the_rooms, now = case
    found = earliest_per_mediator(req, people=the_people, mediators=the_mediators, rooms=the_rooms, now=now)
    for m in the_mediators:
        alone = SearchRequest(**{**_fields(req), "limit": 1})
        expected = oracle.find_slots(alone, people=the_people, mediators=[m], rooms=the_rooms, now=now)
        slot = found[m.id]
        assert ([] if slot is None else [comparable(slot)]) == expected


def _fields(req: SearchRequest) -> dict[str, object]:
    return {name: getattr(req, name) for name in req.__dataclass_fields__}
