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
    clock change. A window on local date D runs from the first instant whose local time on D is in
    ``[start, end)`` to the last such instant, which means:

    * a start or end inside the spring-forward gap is clamped to the transition instant (a window
      wholly inside the gap is empty);
    * an ambiguous start (fall back) is its first occurrence (fold=0), an ambiguous end its second
      (fold=1); one exception: an end at the very first repeated time (01:00 in London) is its first
      occurrence, because once the clocks go back they never again show a time before it;
    * a start inside the repeated hour also covers the repeat of the times just before it (a window
      is one interval, never two).

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

How a search runs
    The people's common free time is computed once, as (everyone's availability) minus (anyone's busy
    time), by linear merges. Mediators are then read in fairness order and only inside those
    stretches: a calendar is sorted once and bisected, never merged as a whole, and reading stops as
    soon as no unread mediator could change the answer. A search that finds its ``limit`` slots in
    the first days reads a few days of the calendars it needs. Inside a stretch, heaps keep the
    mediators free at the current start in fairness order, so each start costs O(log n).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import chain, islice
from operator import attrgetter, itemgetter, sub
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


_start_of = itemgetter(0)
_end_of = itemgetter(1)
_zone_of = attrgetter("tzinfo")


def _sorted_utc(intervals: Iterable[Interval]) -> list[Interval]:
    pairs = list(intervals)
    if set(map(_zone_of, chain.from_iterable(pairs))) - {UTC}:
        # Convert before sorting: datetimes that share a zone compare by wall time and ignore fold.
        pairs = [(_as_utc(start), _as_utc(end)) for start, end in pairs]
    pairs.sort()
    return pairs


def _merged(intervals: Iterable[Interval]) -> Iterator[Interval]:
    """Merge UTC intervals sorted by start, dropping empty ones."""
    current: Interval | None = None
    for start, end in intervals:
        if start >= end:
            continue
        if current is None:
            current = start, end
        elif start <= current[1]:
            if end > current[1]:
                current = current[0], end
        else:
            yield current
            current = start, end
    if current is not None:
        yield current


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
    """The parts of sorted intervals inside ``[lo, hi)``."""
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


@lru_cache(maxsize=4096)
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


def _occurrences(wall: datetime, tz: ZoneInfo) -> list[datetime]:
    """The UTC instants at which the clocks show ``wall``: none in a gap, two in a repeat."""
    found: list[datetime] = []
    for fold in (0, 1):
        utc = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if utc.astimezone(tz).replace(tzinfo=None) == wall and utc not in found:
            found.append(utc)
    return sorted(found)


def _start_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first instant at which the local time is ``wall`` or later."""
    found = _occurrences(wall, tz)
    return found[0] if found else _transition_instant(wall, tz)


def _end_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant after the last one at which the local time is still before ``wall``."""
    found = _occurrences(wall, tz)
    if not found:
        return _transition_instant(wall, tz)
    # After a fall back the clocks show times before ``wall`` again only if the repeat began earlier.
    if len(found) == 2 and len(_occurrences(wall - _TICK, tz)) == 2:
        return found[1]
    return found[0]


class _Day(NamedTuple):
    start: datetime  # first UTC instant of the local date
    end: datetime  # first UTC instant of the next local date
    clean: bool  # one UTC offset all day, so wall time = start + time since midnight


@lru_cache(maxsize=32768)
def _local_day(tz_name: str, day: date) -> _Day:
    tz = ZoneInfo(tz_name)
    start = _start_to_utc(datetime.combine(day, _MIDNIGHT), tz)
    end = _start_to_utc(datetime.combine(day + _DAY, _MIDNIGHT), tz)
    clean = end - start == _DAY and start.astimezone(tz).utcoffset() == end.astimezone(tz).utcoffset()
    return _Day(start, end, clean)


def local_window(tz_name: str, day: date, start: time, end: time) -> Interval:
    """The UTC interval of the local window ``[start, end)`` on ``day`` (DST rules in the module doc)."""
    info = _local_day(tz_name, day)
    if info.clean:
        low = info.start + _since_midnight(start)
        return low, info.end if end == _MIDNIGHT else info.start + _since_midnight(end)
    tz = ZoneInfo(tz_name)
    low = _start_to_utc(datetime.combine(day, start), tz)
    return low, info.end if end == _MIDNIGHT else _end_to_utc(datetime.combine(day, end), tz)


def _local_dates(tz_name: str, start: datetime, end: datetime) -> tuple[date, date]:
    """The local dates whose windows may touch ``[start, end)``, with a day to spare before."""
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


@lru_cache(maxsize=8192)
def _rule_windows(rule: WeeklyRule, first: date, last: date, closed_days: frozenset[date]) -> tuple[Interval, ...]:
    # Cached: many people share the same working hours, and a day's searches share the same dates.
    day = first + timedelta(days=(rule.weekday - first.weekday()) % 7)
    windows = []
    while day <= last:
        if rule.applies_on(day) and day not in closed_days:
            windows.append(local_window(rule.tz, day, rule.start, rule.end))
        day += _WEEK
    return tuple(windows)


def _exception_windows(exc: DateException, first: date, last: date) -> Iterator[Interval]:
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
    dates: dict[str, tuple[date, date]] = {}

    def local_span(tz_name: str) -> tuple[date, date]:
        if tz_name not in dates:
            dates[tz_name] = _local_dates(tz_name, start, end)
        return dates[tz_name]

    available = normalize(chain.from_iterable(_rule_windows(r, *local_span(r.tz), closed_days) for r in rules))
    off: list[Interval] = []
    extra: list[Interval] = []
    for exc in exceptions:
        (off if exc.kind == "off" else extra).extend(_exception_windows(exc, *local_span(exc.tz)))
    if off:
        available = subtract(available, normalize(off))
    if extra:
        available = union(available, normalize(extra))
    return list(_clipped(available, start, end))


# --- start grid ---------------------------------------------------------------------------------------


def _check_grid(grid: timedelta) -> int:
    if grid <= timedelta(0) or grid % _MINUTE:
        raise ValueError("grid must be a positive whole number of minutes")
    return grid // _MINUTE


@lru_cache(maxsize=4096)
def _irregular_day_starts(tz_name: str, day: date, step: int) -> tuple[datetime, ...]:
    tz = ZoneInfo(tz_name)
    starts = []
    for minute in range(0, _MINUTES_PER_DAY, step):
        wall = datetime.combine(day, time(minute // 60, minute % 60))
        utc = wall.replace(tzinfo=tz).astimezone(UTC)  # fold=0: an ambiguous time counts once
        if utc.astimezone(tz).replace(tzinfo=None) == wall:  # skip times that do not exist
            starts.append(utc)
    return tuple(starts)


@lru_cache(maxsize=1024)
def _grid_days(
    tz_name: str, step: int, first: date, last: date
) -> tuple[tuple[datetime, tuple[datetime, ...] | None], ...]:
    """Each local day's first instant, with its grid starts listed only if the clocks change that day."""
    days = []
    day = first
    while day <= last:
        info = _local_day(tz_name, day)
        days.append((info.start, None if info.clean else _irregular_day_starts(tz_name, day, step)))
        day += _DAY
    return tuple(days)


class _Grid:
    """Grid starts in one zone over a range of local dates, computed by arithmetic on clean days."""

    def __init__(self, tz_name: str, grid: timedelta, start: datetime, end: datetime) -> None:
        step = _check_grid(grid)
        self._step = grid
        self._per_day = -(-_MINUTES_PER_DAY // step)
        self._days = _grid_days(tz_name, step, *_local_dates(tz_name, start, end))
        self._day_starts = [day_start for day_start, _ in self._days]

    def first_from(self, t: datetime) -> datetime | None:
        """The first grid start at or after ``t``."""
        return next(self.between(t, self._days[-1][0] + _DAY) if self._days else iter(()), None)

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


def _long_enough(intervals: Iterable[Interval], duration: timedelta) -> Iterator[Interval]:
    return (iv for iv in intervals if iv[1] - iv[0] >= duration)


class _Index:
    """Intervals sorted by start, answering "which of them overlap [a, b)?" by bisection.

    A calendar is only read where the people are all free, so most of it is never merged.
    """

    __slots__ = ("_items", "_longest")

    def __init__(self, intervals: Iterable[Interval]) -> None:
        self._items = _sorted_utc(intervals)
        lengths = map(sub, map(_end_of, self._items), map(_start_of, self._items))
        self._longest = max(lengths, default=timedelta(0))

    def near(self, start: datetime, end: datetime) -> list[Interval]:
        """The merged intervals that overlap ``[start, end)``, unclipped."""
        # An interval that starts ``longest`` or more before ``start`` has ended by then.
        first = bisect_right(self._items, start - self._longest, key=_start_of)
        last = bisect_left(self._items, end, key=_start_of)
        return [iv for iv in _merged(self._items[first:last]) if iv[1] > start]


def _buffered_near(
    busy: _Index, start: datetime, end: datetime, before: timedelta, after: timedelta
) -> Iterable[Interval]:
    """Busy time near ``[start, end)``, widened so that a meeting outside it keeps its buffers clear."""
    blocked: Iterable[Interval] = busy.near(start - before, end + after)
    if before or after:
        blocked = _merged(_buffered(blocked, before, after))
    return blocked


class _Rooms:
    """Suitable rooms in id order, answering "which room is free for a meeting at s?"."""

    def __init__(self, rooms: Iterable[Room], req: SearchRequest) -> None:
        suitable = [r for r in rooms if req.required_features <= r.features]
        suitable.sort(key=lambda r: _id_key(r.id))
        self._rooms = suitable
        self._indexes: dict[int, tuple[_Index, _Index]] = {}
        self._duration = req.duration
        self._cache: dict[datetime, Room | None] = {}

    def __bool__(self) -> bool:
        return bool(self._rooms)

    def at(self, start: datetime) -> Room | None:
        if start not in self._cache:
            self._cache[start] = self._find(start, start + self._duration)
        return self._cache[start]

    def _find(self, start: datetime, end: datetime) -> Room | None:
        for position, room in enumerate(self._rooms):
            if position not in self._indexes:
                self._indexes[position] = (_Index(room.available), _Index(room.busy))
            available, busy = self._indexes[position]
            covering = available.near(start, end)
            if covering and covering[0][0] <= start and covering[0][1] >= end and not busy.near(start, end):
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
        self.common = self._common(people)
        self.grid = _Grid(req.grid_tz, req.grid, self.lo, self.hi)
        self.online = req.mode != "in_person" and req.online_ok
        in_person = req.mode != "online"
        self.rooms = _Rooms(rooms if in_person else (), req)
        preferred = req.preferred_mode or "online"
        self.mode_order = tuple(sorted(MODES, key=lambda mode: mode != preferred))

    def _common(self, people: Iterable[Person]) -> list[Interval]:
        """Times when every person is free, in pieces long enough for a meeting."""
        # Everyone is free where all are available and none is busy: (A1 & A2 & ...) - (B1 | B2 | ...).
        available: list[Interval] = [(self.lo, self.hi)] if self.lo < self.hi else []
        busy: list[Interval] = []
        for person in people:
            if not available:
                return []
            available = list(_intersected(available, _merged(_sorted_utc(person.available))))
            busy += person.busy
        return list(_long_enough(_subtracted(available, _merged(_sorted_utc(busy))), self.req.duration))

    def can_online(self, mediator: Mediator) -> bool:
        return self.online and mediator.online

    def can_in_person(self, mediator: Mediator) -> bool:
        return bool(self.rooms) and mediator.in_person

    def modes(self, mediator: Mediator) -> tuple[Mode, ...]:
        """The modes in which this mediator could take part in this search."""
        if 0 in (mediator.max_per_day, mediator.max_per_week):
            return ()
        can = {"online": self.can_online(mediator), "in_person": self.can_in_person(mediator)}
        return tuple(mode for mode in MODES if can[mode])

    def on_grid(self, ranges: Iterable[Interval]) -> Iterator[Interval]:
        """Start ranges moved up to their first grid start; those with none are dropped."""
        for start, end in ranges:
            first = self.grid.first_from(start)
            if first is not None and first < end:
                yield first, end


class _Calendar:
    """One mediator's calendar, read one stretch of the people's common free time at a time.

    Indexes are built on first use, so a mediator who does not work in the stretches the search
    reaches costs almost nothing.
    """

    def __init__(self, search: _Search, mediator: Mediator) -> None:
        self.search = search
        self.mediator = mediator
        self._available: _Index | None = None
        self._busy: _Index | None = None
        self._full: list[Interval] = []

    def start_ranges(self, start: datetime, end: datetime) -> list[Interval]:
        """Half-open ranges of possible meeting starts inside ``[start, end)``, each beginning on the grid."""
        m, duration = self.mediator, self.search.req.duration
        if self._available is None:
            self._available = _Index(m.available)
        open_hours = self._available.near(start, end)
        open_hours = [iv for iv in _clipped(open_hours, start, end) if iv[1] - iv[0] >= duration]
        if not open_hours:
            return []
        if self._busy is None:
            self._busy = _Index(chain(m.busy, m.meetings))
            self._full = _full_days(m)
        free = _subtracted(open_hours, _buffered_near(self._busy, start, end, m.buffer_before, m.buffer_after))
        # Starts s with s + duration <= b, as a half-open range: datetimes count in microseconds.
        ranges: Iterable[Interval] = ((a, b - duration + _TICK) for a, b in free if b - a >= duration)
        if self._full:
            ranges = _subtracted(ranges, self._full)
        return list(self.search.on_grid(ranges))


def _full_days(mediator: Mediator) -> list[Interval]:
    """The mediator's local days and ISO weeks that already hold as many meetings as the caps allow."""
    day_cap, week_cap = mediator.max_per_day, mediator.max_per_week
    if not mediator.meetings or (day_cap is None and week_cap is None):
        return []
    zone = ZoneInfo(mediator.tz)
    per_day: dict[date, int] = {}
    for start, _ in mediator.meetings:
        day = start.astimezone(zone).date()
        per_day[day] = per_day.get(day, 0) + 1
    per_week: dict[date, int] = {}
    for day, count in per_day.items():
        monday = day - timedelta(days=day.weekday())
        per_week[monday] = per_week.get(monday, 0) + count
    blocks = [_local_days(mediator.tz, d, 1) for d, n in per_day.items() if day_cap is not None and n >= day_cap]
    blocks += [_local_days(mediator.tz, d, 7) for d, n in per_week.items() if week_cap is not None and n >= week_cap]
    return normalize(blocks)


def _local_days(tz_name: str, first: date, count: int) -> Interval:
    return _local_day(tz_name, first).start, _local_day(tz_name, first + timedelta(days=count - 1)).end


def _in_local_window(t: time, window: tuple[time, time]) -> bool:
    start, end = window
    return start <= t and (end == _MIDNIGHT or t < end)


class _Choice(NamedTuple):
    mediator: Mediator
    mode: Mode
    room: Room | None
    fairest: bool  # no eligible mediator has fewer recent assignments


class _Walk:
    """Finds start times in order, one stretch of the people's common free time at a time.

    Mediators are read in fairness order and only as far as needed: once a mediator read so far is
    free at the earliest start still possible, in the best mode possible then, nobody unread can beat
    it (they are all less fair). Mediators read so far sit in heaps: ``upcoming`` by the start of
    their next free range, ``ending`` by the end of their current one, and ``fairest`` per mode.
    """

    def __init__(self, search: _Search, mediators: Sequence[Mediator]) -> None:
        self.search = search
        self.mediators = mediators
        self.modes = [search.modes(m) for m in mediators]
        self.calendars = [_Calendar(search, m) for m in mediators]
        eligible = [i for i, modes in enumerate(self.modes) if modes]
        self.order = sorted(eligible, key=lambda i: _fairness_key(mediators[i]))
        self.capable = {mode: sum(mode in self.modes[i] for i in eligible) for mode in MODES}
        self.generation = [0] * len(mediators)  # bumped when a range ends, to spot stale heap entries
        self._reset((search.lo, search.lo))

    def _reset(self, stretch: Interval) -> None:
        self.stretch = stretch
        self.read = 0  # mediators of ``order`` read for this stretch
        self.unread = dict(self.capable)  # per mode, mediators not read yet who could meet that way
        self.upcoming: list[tuple[datetime, int, datetime]] = []  # (first start, mediator, range end)
        self.ending: list[tuple[datetime, int]] = []  # (range end, mediator)
        self.fairest: dict[Mode, list[tuple[tuple[float, tuple[bool, Id]], int, int]]] = {m: [] for m in MODES}
        self.active: dict[Mode, int] = {m: 0 for m in MODES}

    def run(self, limit: int) -> Iterator[tuple[datetime, _Choice]]:
        found = 0
        if limit <= 0 or not self.order:
            return
        for stretch in self.search.common:
            self._reset(stretch)
            for option in self._sweep(stretch):
                yield option
                found += 1
                if found >= limit:
                    return

    def _sweep(self, stretch: Interval) -> Iterator[tuple[datetime, _Choice]]:
        floor = self.search.grid.first_from(stretch[0])  # no start can come before it
        last = stretch[1] - self.search.req.duration  # nor after this
        while floor is not None and floor <= last:
            start = self._earliest_from(floor)
            if start is None:
                return
            choice = self._choose(start)
            if choice is not None:
                yield start, choice
            floor = self.search.grid.first_from(start + _TICK)

    def _earliest_from(self, floor: datetime) -> datetime | None:
        self._advance(floor)
        while not self.ending and self.read < len(self.order):
            self._read_next(floor)
        if self.ending:
            return floor
        if not self.upcoming:
            return None
        start = self.upcoming[0][0]  # everyone is read: jump to the next free range
        self._advance(start)
        return start

    def _read_next(self, now: datetime) -> None:
        index = self.order[self.read]
        self.read += 1
        for mode in self.modes[index]:
            self.unread[mode] -= 1
        for first, end in self.calendars[index].start_ranges(*self.stretch):
            heapq.heappush(self.upcoming, (first, index, end))
        self._advance(now)

    def _advance(self, start: datetime) -> None:
        while self.ending and self.ending[0][0] <= start:
            index = heapq.heappop(self.ending)[1]
            self.generation[index] += 1
            for mode in self.modes[index]:
                self.active[mode] -= 1
        while self.upcoming and self.upcoming[0][0] <= start:
            _, index, end = heapq.heappop(self.upcoming)
            if end <= start:  # read after this range was over
                continue
            heapq.heappush(self.ending, (end, index))
            key = _fairness_key(self.mediators[index])
            for mode in self.modes[index]:
                heapq.heappush(self.fairest[mode], (key, index, self.generation[index]))
                self.active[mode] += 1

    def _best(self, mode: Mode) -> Mediator:
        heap = self.fairest[mode]
        while heap[0][2] != self.generation[heap[0][1]]:
            heapq.heappop(heap)
        return self.mediators[heap[0][1]]

    def _choose(self, start: datetime) -> _Choice | None:
        for mode in self.search.mode_order:
            room = self.search.rooms.at(start) if mode == "in_person" and self.search.rooms else None
            if mode == "in_person" and room is None:
                continue
            while not self.active[mode] and self.unread[mode]:
                self._read_next(start)
            if self.active[mode]:
                best = self._best(mode)
                return _Choice(best, mode, room, best is self.mediators[self.order[0]])
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
            "mediator has the fewest recent assignments"
            if choice.fairest
            else "mediator has the fewest recent assignments of those free at this time"
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
    slots: list[Slot] = []
    for start, choice in _Walk(search, mediators).run(req.limit):
        reason = "next available time" if slots else "earliest available"
        slots.append(_slot(search, start, choice, first_reason=reason, fairness=True))
    return slots


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
        first = next(_Walk(search, [mediator]).run(1), None)
        result[mediator.id] = None
        if first is not None:
            start, choice = first
            reason = "earliest available for this mediator"
            result[mediator.id] = _slot(search, start, choice, first_reason=reason, fairness=False)
    return result
