"""The multi-party slot engine: pure functions over plain values.

No Django, no database, no settings and no clock: the caller passes ``now`` and every busy interval.

Intervals
    An interval is a half-open ``(start, end)`` pair of aware datetimes, ``[start, end)``. Results are
    always in UTC. A *normalized* list is sorted, has no empty intervals and no two intervals that
    overlap or touch. ``normalize`` sorts and merges (O(n log n)); ``union``, ``intersect`` and
    ``subtract`` take normalized lists and are linear merges; ``intersect_all`` folds ``intersect``.

Weekly rules and date exceptions
    A ``WeeklyRule`` gives a local window ``[start, end)`` on one weekday in its own zone, optionally
    only from ``valid_from`` to ``valid_until`` (both inclusive). An ``end`` of 00:00 means midnight at
    the end of the day. ``expand_availability`` expands rules per *local* date and converts each
    endpoint to UTC before any arithmetic, so 09:00-17:00 stays 09:00-17:00 local on both sides of a
    clock change. A window on local date D covers the UTC instants from the first moment the local
    wall clock shows ``start`` on D to the last moment it shows a time before ``end`` on D:

    * a start or end inside the spring-forward gap is clamped to the transition instant (a window
      wholly inside the gap is empty);
    * an ambiguous start (fall back) is its first occurrence (fold=0), an ambiguous end its second
      (fold=1).

    ``closed_days`` (bank holidays) are local dates on which no weekly rule applies. A ``DateException``
    of kind "off" removes whole local days (no times) or a local window on each day of its range from
    the weekly rules; kind "extra" adds a local window (or whole days without times). Extra windows
    are added after everything is removed, so they apply even on closed days:
    ``available = (weekly rules - off) | extra``, clipped to the window.

Start grid
    Meeting starts are local wall-clock times in the request's ``grid_tz`` whose minute of the day is
    a multiple of ``grid`` minutes (seconds zero). A local time that does not exist is skipped; an
    ambiguous one is taken once, at its first occurrence (fold=0).

Search
    ``find_slots`` returns at most ``limit`` slots, one per start time, in time order. A start is never
    before ``max(now, window_start, earliest_start)``; an end is never after ``latest_end``, or, with
    ``allow_late``, never after ``window_end``, and a slot that ends after ``latest_end`` is flagged
    ``late``. A slot needs:

    * every ``Person`` free: inside ``available`` and outside ``busy``;
    * one ``Mediator`` free: ``[start, end)`` inside ``available`` and
      ``[start - buffer_before, end + buffer_after)`` outside ``busy`` and ``meetings``; a start on a
      local day (in the mediator's zone) that already holds ``max_per_day`` meetings, or in an ISO week
      that holds ``max_per_week``, is refused (only existing ``meetings`` count: the slots of one search
      are alternatives, not bookings);
    * online: the request allows it (mode "online" or "any", and ``online_ok``) and the mediator works
      online;
    * in person: the request allows it (mode "in_person" or "any"), the mediator meets in person, and a
      room whose features include ``required_features`` is free for ``[start, end)``.

    For each start the mode is the family's ``preferred_mode`` when anyone can meet that way, otherwise
    the other one (online first when there is no preference); then the fairest mediator for that mode
    (lowest ``recent_assignments``, then id) and, in person, the first suitable free room by id.

Ranking
    Earliest first; at one start time, the family's preferences (mode, then a start inside one of
    ``preferred_local_windows``, read in ``grid_tz``) and then fairness decide which option is offered.
    ``score`` agrees with that order: it is minus the minutes after the earliest allowed start, plus a
    bonus below 1 (0.5 for the preferred mode, 0.25 for a preferred time, up to 0.2 for a mediator with
    few recent assignments). Since starts are whole minutes apart, a later slot never outscores an
    earlier one. ``reasons`` say the same in plain words.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import chain, islice
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Interval = tuple[datetime, datetime]
Id = int | str
Mode = Literal["online", "in_person"]
RequestMode = Literal["online", "in_person", "any"]

DEFAULT_TZ = "Europe/London"
MODES: tuple[Mode, ...] = ("online", "in_person")

_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)
_TICK = timedelta(microseconds=1)
_MIDNIGHT = time(0)
_MINUTES_PER_DAY = 24 * 60


# --- interval algebra ---------------------------------------------------------------------------


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value!r} is naive: intervals need aware datetimes")
    return value.astimezone(UTC)


def _sorted_utc(intervals: Iterable[Interval]) -> list[Interval]:
    # Convert before sorting: datetimes that share a zone compare by wall time and ignore fold.
    pairs = [
        pair if pair[0].tzinfo is UTC and pair[1].tzinfo is UTC else (_as_utc(pair[0]), _as_utc(pair[1]))
        for pair in intervals
    ]
    pairs.sort()
    return pairs


def _merged(intervals: Iterable[Interval]) -> Iterator[Interval]:
    """Merge UTC intervals sorted by start, dropping empty ones."""
    cur_start: datetime | None = None
    cur_end: datetime | None = None
    for start, end in intervals:
        if start >= end:
            continue
        if cur_end is None:
            cur_start, cur_end = start, end
        elif start <= cur_end:
            if end > cur_end:
                cur_end = end
        else:
            yield cur_start, cur_end  # type: ignore[misc]
            cur_start, cur_end = start, end
    if cur_end is not None:
        yield cur_start, cur_end  # type: ignore[misc]


def _intersected(a: Iterable[Interval], b: Iterable[Interval]) -> Iterator[Interval]:
    it_a, it_b = iter(a), iter(b)
    x, y = next(it_a, None), next(it_b, None)
    while x is not None and y is not None:
        start = x[0] if x[0] > y[0] else y[0]
        end = x[1] if x[1] < y[1] else y[1]
        if start < end:
            yield start, end
        if x[1] < y[1]:
            x = next(it_a, None)
        else:
            y = next(it_b, None)


def _subtracted(a: Iterable[Interval], b: Iterable[Interval]) -> Iterator[Interval]:
    it_b = iter(b)
    y = next(it_b, None)
    for start, end in a:
        while y is not None and y[1] <= start:
            y = next(it_b, None)
        cur = start
        while y is not None and y[0] < end:
            if y[0] > cur:
                yield cur, y[0]
            if y[1] >= end:
                cur = end  # y may still cover the next interval of a: keep it
                break
            cur = y[1]
            y = next(it_b, None)
        if cur < end:
            yield cur, end


def _clipped(intervals: Iterable[Interval], lo: datetime, hi: datetime) -> Iterator[Interval]:
    for start, end in intervals:
        if start >= hi:
            return
        start = start if start > lo else lo
        end = end if end < hi else hi
        if start < end:
            yield start, end


def _buffered(busy: Iterable[Interval], before: timedelta, after: timedelta) -> Iterator[Interval]:
    # A meeting [s, s+d) with buffers overlaps busy [a, b) exactly when [s, s+d) overlaps
    # [a - after, b + before), so widening busy lets the meeting itself be tested.
    for start, end in busy:
        yield start - after, end + before


def normalize(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort, convert to UTC, drop empty intervals and merge overlapping or touching ones."""
    return list(_merged(_sorted_utc(intervals)))


def union(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Instants in ``a`` or ``b`` (both normalized)."""
    return list(_merged(heapq.merge(a, b)))


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Instants in both ``a`` and ``b`` (both normalized)."""
    return list(_intersected(a, b))


def subtract(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Instants in ``a`` and not in ``b`` (both normalized)."""
    return list(_subtracted(a, b))


def intersect_all(lists: Iterable[Sequence[Interval]]) -> list[Interval]:
    """Instants in every list (each normalized). No lists at all gives an empty list."""
    result: list[Interval] | None = None
    for intervals in lists:
        result = list(intervals) if result is None else intersect(result, intervals)
        if not result:
            return []
    return result or []


# --- local time -----------------------------------------------------------------------------------


def _check_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _check_local_window(start: time, end: time) -> None:
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError("local window times must be naive wall-clock times")
    if end != _MIDNIGHT and end <= start:
        raise ValueError(f"window end {end} must be after its start {start} (00:00 ends at midnight)")


def _since_midnight(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


def _transition_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant the clocks jump over ``wall``, a naive local time inside a spring-forward gap."""
    lo = int(wall.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())  # before the jump
    hi = int(wall.replace(tzinfo=tz, fold=0).astimezone(UTC).timestamp())  # after it
    after = datetime.fromtimestamp(hi, tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _wall_to_utc(wall: datetime, tz: ZoneInfo, *, fold: int) -> datetime:
    utc = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == wall:
        return utc
    return _transition_instant(wall, tz)


class _Day(NamedTuple):
    start: datetime  # first UTC instant of the local date
    end: datetime  # first UTC instant of the next local date
    clean: bool  # one UTC offset all day, so wall time = start + time since midnight


@lru_cache(maxsize=32768)
def _local_day(tz_name: str, day: date) -> _Day:
    tz = ZoneInfo(tz_name)
    start = _wall_to_utc(datetime.combine(day, _MIDNIGHT), tz, fold=0)
    end = _wall_to_utc(datetime.combine(day + _DAY, _MIDNIGHT), tz, fold=0)
    clean = end - start == _DAY and start.astimezone(tz).utcoffset() == end.astimezone(tz).utcoffset()
    return _Day(start, end, clean)


def _local_instant(tz_name: str, day: date, wall: time, *, fold: int) -> datetime:
    info = _local_day(tz_name, day)
    if info.clean:
        return info.start + _since_midnight(wall)
    return _wall_to_utc(datetime.combine(day, wall), ZoneInfo(tz_name), fold=fold)


def local_window(tz_name: str, day: date, start: time, end: time) -> Interval:
    """The UTC interval of the local window ``[start, end)`` on ``day`` (DST rules in the module doc)."""
    low = _local_instant(tz_name, day, start, fold=0)
    if end == _MIDNIGHT:
        return low, _local_day(tz_name, day).end
    return low, _local_instant(tz_name, day, end, fold=1)


def _local_dates(tz_name: str, start: datetime, end: datetime) -> tuple[date, date]:
    tz = ZoneInfo(tz_name)
    return start.astimezone(tz).date() - _DAY, end.astimezone(tz).date()


# --- weekly rules and exceptions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    weekday: int  # 0 = Monday
    start: time
    end: time  # 00:00 means midnight at the end of the day
    tz: str = DEFAULT_TZ
    valid_from: date | None = None
    valid_until: date | None = None  # inclusive

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError("weekday must be 0 (Monday) to 6 (Sunday)")
        _check_local_window(self.start, self.end)
        _check_zone(self.tz)
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            raise ValueError("valid_from must not be after valid_until")

    def applies_on(self, day: date) -> bool:
        return (
            day.weekday() == self.weekday
            and (self.valid_from is None or day >= self.valid_from)
            and (self.valid_until is None or day <= self.valid_until)
        )


@dataclass(frozen=True, slots=True)
class DateException:
    first_day: date
    last_day: date  # inclusive
    kind: Literal["off", "extra"]
    start: time | None = None  # no times: the whole local day
    end: time | None = None
    tz: str = DEFAULT_TZ

    def __post_init__(self) -> None:
        if self.kind not in ("off", "extra"):
            raise ValueError("kind must be 'off' or 'extra'")
        if self.first_day > self.last_day:
            raise ValueError("first_day must not be after last_day")
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end, or neither for whole days")
        if self.start is not None and self.end is not None:
            _check_local_window(self.start, self.end)
        _check_zone(self.tz)


def _rule_windows(rule: WeeklyRule, start: datetime, end: datetime, closed_days: frozenset[date]) -> Iterator[Interval]:
    first, last = _local_dates(rule.tz, start, end)
    day = first + timedelta(days=(rule.weekday - first.weekday()) % 7)
    while day <= last:
        if rule.applies_on(day) and day not in closed_days:
            yield local_window(rule.tz, day, rule.start, rule.end)
        day += _WEEK


def _exception_windows(exc: DateException, start: datetime, end: datetime) -> Iterator[Interval]:
    first, last = _local_dates(exc.tz, start, end)
    day, stop = max(first, exc.first_day), min(last, exc.last_day)
    while day <= stop:
        if exc.start is None or exc.end is None:
            info = _local_day(exc.tz, day)
            yield info.start, info.end
        else:
            yield local_window(exc.tz, day, exc.start, exc.end)
        day += _DAY


def expand_availability(
    rules: Iterable[WeeklyRule],
    exceptions: Iterable[DateException],
    window_start: datetime,
    window_end: datetime,
    *,
    closed_days: frozenset[date] = frozenset(),
) -> list[Interval]:
    """Available UTC intervals inside ``[window_start, window_end)``: ``(rules - off) | extra``."""
    start, end = _as_utc(window_start), _as_utc(window_end)
    if start >= end:
        return []
    off: list[Interval] = []
    extra: list[Interval] = []
    for exc in exceptions:
        (off if exc.kind == "off" else extra).extend(_exception_windows(exc, start, end))
    weekly = normalize(chain.from_iterable(_rule_windows(r, start, end, closed_days) for r in rules))
    available = union(subtract(weekly, normalize(off)), normalize(extra))
    return list(_clipped(available, start, end))


# --- start grid ---------------------------------------------------------------------------------------


def _check_grid(grid: timedelta) -> int:
    if grid <= timedelta(0) or grid % _MINUTE:
        raise ValueError("grid must be a positive whole number of minutes")
    return grid // _MINUTE


def _irregular_day_starts(tz_name: str, day: date, step: int) -> tuple[datetime, ...]:
    tz = ZoneInfo(tz_name)
    starts = []
    for minute in range(0, _MINUTES_PER_DAY, step):
        wall = datetime.combine(day, time(minute // 60, minute % 60))
        utc = wall.replace(tzinfo=tz).astimezone(UTC)  # fold=0: an ambiguous time counts once
        if utc.astimezone(tz).replace(tzinfo=None) == wall:  # skip times that do not exist
            starts.append(utc)
    return tuple(starts)


class _Grid:
    """Grid starts in one zone over a range of local dates, computed by arithmetic on clean days."""

    def __init__(self, tz_name: str, grid: timedelta, start: datetime, end: datetime) -> None:
        step = _check_grid(grid)
        self._step = grid
        self._per_day = -(-_MINUTES_PER_DAY // step)
        self._days: list[tuple[datetime, tuple[datetime, ...] | None]] = []
        first, last = _local_dates(tz_name, start, end)
        day = first
        while day <= last:
            info = _local_day(tz_name, day)
            self._days.append((info.start, None if info.clean else _irregular_day_starts(tz_name, day, step)))
            day += _DAY
        self._day_starts = [day_start for day_start, _ in self._days]

    def between(self, first: datetime, last: datetime) -> Iterator[datetime]:
        """Grid starts in ``[first, last]``, in time order."""
        step, per_day = self._step, self._per_day
        index = max(bisect_right(self._day_starts, first) - 1, 0)
        for day_start, irregular in islice(self._days, index, None):
            if day_start > last:
                return
            if irregular is not None:
                for start in islice(irregular, bisect_left(irregular, first), None):
                    if start > last:
                        return
                    yield start
                continue
            k = 0 if first <= day_start else -((day_start - first) // step)
            start = day_start + k * step
            while k < per_day and start <= last:
                yield start
                k += 1
                start += step


def grid_starts(
    start: datetime, end: datetime, *, grid: timedelta = timedelta(minutes=15), tz: str = DEFAULT_TZ
) -> list[datetime]:
    """All grid starts in ``[start, end)``, in UTC."""
    start, end = _as_utc(start), _as_utc(end)
    if start >= end:
        return []
    return list(_Grid(tz, grid, start, end).between(start, end - _TICK))


# --- search inputs and output -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    id: Id
    available: Sequence[Interval]
    busy: Sequence[Interval]


@dataclass(frozen=True, slots=True)
class Mediator:
    id: Id
    available: Sequence[Interval]
    busy: Sequence[Interval]
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    meetings: Sequence[Interval] = ()  # confirmed meetings: busy, and counted for the caps
    max_per_day: int | None = None
    max_per_week: int | None = None
    tz: str = DEFAULT_TZ
    online: bool = True
    in_person: bool = True
    recent_assignments: float = 0.0  # fairness load: lower is offered first
    stale_calendar: bool = False

    def __post_init__(self) -> None:
        if self.buffer_before < timedelta(0) or self.buffer_after < timedelta(0):
            raise ValueError("buffers must not be negative")
        for cap in (self.max_per_day, self.max_per_week):
            if cap is not None and cap < 0:
                raise ValueError("caps must not be negative")
        _check_zone(self.tz)


@dataclass(frozen=True, slots=True)
class Room:
    id: Id
    venue_id: Id
    available: Sequence[Interval]
    busy: Sequence[Interval]
    features: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SearchRequest:
    window_start: datetime
    window_end: datetime
    duration: timedelta = timedelta(hours=3)
    grid: timedelta = timedelta(minutes=15)
    grid_tz: str = DEFAULT_TZ
    earliest_start: datetime | None = None  # the notice point, computed by the caller
    latest_end: datetime | None = None  # the statutory due instant
    allow_late: bool = False
    mode: RequestMode = "any"
    online_ok: bool = True  # everyone can meet online
    required_features: frozenset[str] = frozenset()
    preferred_mode: Mode | None = None
    preferred_local_windows: tuple[tuple[time, time], ...] = ()
    limit: int = 20

    def __post_init__(self) -> None:
        for value in (self.window_start, self.window_end, self.earliest_start, self.latest_end):
            if value is not None:
                _as_utc(value)
        if _as_utc(self.window_end) <= _as_utc(self.window_start):
            raise ValueError("window_end must be after window_start")
        if self.duration <= timedelta(0):
            raise ValueError("duration must be positive")
        _check_grid(self.grid)
        _check_zone(self.grid_tz)
        if self.mode not in ("online", "in_person", "any"):
            raise ValueError("mode must be 'online', 'in_person' or 'any'")
        if self.preferred_mode is not None and self.preferred_mode not in MODES:
            raise ValueError("preferred_mode must be 'online', 'in_person' or None")
        for start, end in self.preferred_local_windows:
            _check_local_window(start, end)
        if self.limit < 0:
            raise ValueError("limit must not be negative")


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime
    mediator_id: Id
    mode: Mode
    room_id: Id | None
    venue_id: Id | None
    late: bool
    score: float
    reasons: tuple[str, ...]
    stale_calendar: bool


# --- search -------------------------------------------------------------------------------------------


def _id_key(value: Id) -> tuple[bool, Id]:
    return isinstance(value, str), value  # ints before strings, so mixed ids still sort


def _fairness_key(mediator: Mediator) -> tuple[float, tuple[bool, Id]]:
    return mediator.recent_assignments, _id_key(mediator.id)


def _free(available: Sequence[Interval], busy: Iterable[Interval]) -> Iterator[Interval]:
    return _subtracted(_merged(_sorted_utc(available)), _merged(_sorted_utc(busy)))


def _long_enough(intervals: Iterable[Interval], duration: timedelta) -> Iterator[Interval]:
    return (iv for iv in intervals if iv[1] - iv[0] >= duration)


class _Rooms:
    """Suitable rooms in id order, each with its free intervals, answering 'which room at s?'."""

    def __init__(self, rooms: Iterable[Room], req: SearchRequest, lo: datetime, hi: datetime) -> None:
        suitable = [r for r in rooms if req.required_features <= r.features]
        suitable.sort(key=lambda r: _id_key(r.id))
        self._duration = req.duration
        self._table: list[tuple[Room, list[datetime], list[datetime]]] = []
        for room in suitable:
            free = list(_long_enough(_clipped(_free(room.available, room.busy), lo, hi), req.duration))
            if free:
                self._table.append((room, [s for s, _ in free], [e for _, e in free]))
        self._cache: dict[datetime, Room | None] = {}

    def __bool__(self) -> bool:
        return bool(self._table)

    def at(self, start: datetime) -> Room | None:
        if start not in self._cache:
            self._cache[start] = self._find(start)
        return self._cache[start]

    def _find(self, start: datetime) -> Room | None:
        end = start + self._duration
        for room, starts, ends in self._table:
            i = bisect_right(starts, start) - 1
            if i >= 0 and ends[i] >= end:
                return room
        return None


class _Search:
    """Everything about one request that does not depend on the mediator."""

    def __init__(self, req: SearchRequest, people: Iterable[Person], rooms: Iterable[Room], now: datetime) -> None:
        self.req = req
        bounds = [_as_utc(now), _as_utc(req.window_start)]
        if req.earliest_start is not None:
            bounds.append(_as_utc(req.earliest_start))
        self.lo = max(bounds)
        self.hi = _as_utc(req.window_end)
        self.latest_end = None if req.latest_end is None else _as_utc(req.latest_end)
        if self.latest_end is not None and not req.allow_late:
            self.hi = min(self.hi, self.latest_end)
        self.grid_zone = ZoneInfo(req.grid_tz)
        self.common = self._common(people) if self.lo < self.hi else []
        self.grid = _Grid(req.grid_tz, req.grid, self.lo, self.hi)
        self.online = req.mode != "in_person" and req.online_ok
        in_person = req.mode != "online"
        self.rooms = _Rooms(rooms if in_person else (), req, self.lo, self.hi)
        preferred = req.preferred_mode or "online"
        self.mode_order = tuple(sorted(MODES, key=lambda mode: mode != preferred))

    def _common(self, people: Iterable[Person]) -> list[Interval]:
        common: list[Interval] = [(self.lo, self.hi)]
        for person in people:
            common = list(_intersected(common, _free(person.available, person.busy)))
            if not common:
                break
        return list(_long_enough(common, self.req.duration))

    def can_online(self, mediator: Mediator) -> bool:
        return self.online and mediator.online

    def can_in_person(self, mediator: Mediator) -> bool:
        return bool(self.rooms) and mediator.in_person

    def starts(self, mediator: Mediator) -> Iterator[datetime]:
        """The mediator's feasible starts in time order, computed lazily."""
        if not (self.can_online(mediator) or self.can_in_person(mediator)):
            return iter(())
        if 0 in (mediator.max_per_day, mediator.max_per_week):
            return iter(())
        busy = _merged(_sorted_utc(chain(mediator.busy, mediator.meetings)))
        busy = _merged(_buffered(busy, mediator.buffer_before, mediator.buffer_after))
        free = _intersected(self.common, _subtracted(_merged(_sorted_utc(mediator.available)), busy))
        starts = self._grid_starts(_long_enough(free, self.req.duration))
        blocked = _cap_blocks(mediator)
        if blocked:
            starts = _outside(starts, blocked)
        if not self.can_online(mediator):
            starts = (s for s in starts if self.rooms.at(s) is not None)
        return starts

    def _grid_starts(self, free: Iterable[Interval]) -> Iterator[datetime]:
        duration = self.req.duration
        for start, end in free:
            yield from self.grid.between(start, end - duration)


def _cap_blocks(mediator: Mediator) -> list[Interval]:
    """UTC ranges in which no meeting may start because a day or week cap is reached."""
    if not mediator.meetings or (mediator.max_per_day is None and mediator.max_per_week is None):
        return []
    zone = ZoneInfo(mediator.tz)
    days = Counter(_as_utc(start).astimezone(zone).date() for start, _ in mediator.meetings)
    weeks = Counter(day.isocalendar()[:2] for day in days.elements())
    blocks: list[Interval] = []
    if mediator.max_per_day is not None:
        for day, count in days.items():
            if count >= mediator.max_per_day:
                info = _local_day(mediator.tz, day)
                blocks.append((info.start, info.end))
    if mediator.max_per_week is not None:
        for (year, week), count in weeks.items():
            if count >= mediator.max_per_week:
                monday = date.fromisocalendar(year, week, 1)
                next_monday = _local_day(mediator.tz, monday + _WEEK)
                blocks.append((_local_day(mediator.tz, monday).start, next_monday.start))
    return normalize(blocks)


def _outside(starts: Iterator[datetime], blocked: list[Interval]) -> Iterator[datetime]:
    i = 0
    for start in starts:
        while i < len(blocked) and blocked[i][1] <= start:
            i += 1
        if i == len(blocked) or start < blocked[i][0]:
            yield start


def _in_local_window(t: time, window: tuple[time, time]) -> bool:
    start, end = window
    return start <= t and (end == _MIDNIGHT or t < end)


class _Choice(NamedTuple):
    mediator: Mediator
    mode: Mode
    room: Room | None
    rivals: int  # mediators who could have taken this start in this mode


def _choose(search: _Search, start: datetime, group: list[Mediator]) -> _Choice | None:
    for mode in search.mode_order:
        if mode == "online":
            room = None
            able = [m for m in group if search.can_online(m)]
        else:
            room = search.rooms.at(start) if search.rooms else None
            able = [m for m in group if m.in_person] if room is not None else []
        if able:
            return _Choice(min(able, key=_fairness_key), mode, room, len(able))
    return None


def _slot(search: _Search, start: datetime, choice: _Choice, *, first_reason: str, fairness: bool) -> Slot:
    req, mediator = search.req, choice.mediator
    end = start + req.duration
    late = search.latest_end is not None and end > search.latest_end
    mode_fit = req.preferred_mode is not None and choice.mode == req.preferred_mode
    local_start = start.astimezone(search.grid_zone).time()
    time_fit = any(_in_local_window(local_start, w) for w in req.preferred_local_windows)
    reasons = [first_reason]
    if req.preferred_mode is not None:
        reasons.append(
            "matches the family's preferred mode"
            if mode_fit
            else "the family's preferred mode is not available at this time"
        )
    if req.preferred_local_windows:
        reasons.append("matches the family's preferred time" if time_fit else "outside the family's preferred times")
    if fairness:
        reasons.append(
            "mediator has the fewest recent assignments" if choice.rivals > 1 else "the only mediator free at this time"
        )
    if late:
        reasons.append("after the statutory due date")
    if mediator.stale_calendar:
        reasons.append("the mediator's calendar may be out of date")
    bonus = 0.5 * mode_fit + 0.25 * time_fit + 0.2 / (1.0 + max(mediator.recent_assignments, 0.0))
    return Slot(
        start=start,
        end=end,
        mediator_id=mediator.id,
        mode=choice.mode,
        room_id=None if choice.room is None else choice.room.id,
        venue_id=None if choice.room is None else choice.room.venue_id,
        late=late,
        score=round(bonus - (start - search.lo) / _MINUTE, 3),
        reasons=tuple(reasons),
        stale_calendar=mediator.stale_calendar,
    )


def _check_now(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")


def find_slots(
    req: SearchRequest,
    *,
    people: Sequence[Person],
    mediators: Sequence[Mediator],
    rooms: Sequence[Room],
    now: datetime,
) -> list[Slot]:
    """The first ``req.limit`` start times at which everyone can meet, best option for each."""
    _check_now(now)
    search = _Search(req, people, rooms, now)
    if req.limit == 0 or not search.common:
        return []
    heap: list[tuple[datetime, int, Iterator[datetime]]] = []
    for index, mediator in enumerate(mediators):
        starts = search.starts(mediator)
        first = next(starts, None)
        if first is not None:
            heap.append((first, index, starts))
    heapq.heapify(heap)
    slots: list[Slot] = []
    while heap and len(slots) < req.limit:
        start = heap[0][0]
        group = _pop_group(heap, start, lambda index: mediators[index])
        choice = _choose(search, start, group)
        if choice is not None:
            reason = "next available time" if slots else "earliest available"
            slots.append(_slot(search, start, choice, first_reason=reason, fairness=True))
    return slots


def _pop_group(
    heap: list[tuple[datetime, int, Iterator[datetime]]], start: datetime, lookup: Callable[[int], Mediator]
) -> list[Mediator]:
    """Pop every mediator whose next start is ``start`` and push back their following start."""
    group = []
    while heap and heap[0][0] == start:
        _, index, starts = heap[0]
        group.append(lookup(index))
        following = next(starts, None)
        if following is None:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (following, index, starts))
    return group


def earliest_per_mediator(
    req: SearchRequest,
    *,
    people: Sequence[Person],
    mediators: Sequence[Mediator],
    rooms: Sequence[Room],
    now: datetime,
) -> dict[Id, Slot | None]:
    """Each mediator's earliest slot (None when there is none), for ranking mediator matches."""
    _check_now(now)
    search = _Search(req, people, rooms, now)
    result: dict[Id, Slot | None] = {}
    for mediator in mediators:
        start = next(search.starts(mediator), None) if search.common else None
        choice = None if start is None else _choose(search, start, [mediator])
        if start is None or choice is None:
            result[mediator.id] = None
        else:
            reason = "earliest available for this mediator"
            result[mediator.id] = _slot(search, start, choice, first_reason=reason, fairness=False)
    return result
