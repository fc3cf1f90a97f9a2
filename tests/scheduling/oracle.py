"""A brute-force reference for ``scheduling.slots`` that walks the UTC minute grid.

It is slow and obvious on purpose, and shares no code with the engine beyond its input dataclasses.
Time is counted in whole minutes since the Unix epoch; every input must fall on whole minutes.

Local windows: the minutes whose local wall time on local date D lies in ``[start, end)``, filled in
from the first such minute to the last one. That filling is what makes a window a single span on a
fall-back day when a boundary is inside the repeated hour; elsewhere it changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from scheduling.slots import DateException, Mediator, Person, Room, SearchRequest, WeeklyRule

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
DAY_MINUTES = 24 * 60
# Every local date that touches a window lies within this many minutes of it (days are at most 26 h).
MARGIN = 27 * 60

Wanted = Callable[[date, int], bool]


@dataclass(frozen=True)
class OracleSlot:
    start: datetime
    end: datetime
    mediator_id: int | str
    mode: str
    room_id: int | str | None
    venue_id: int | str | None
    late: bool


def to_minute(value: datetime) -> int:
    offset = value - EPOCH
    if offset % MINUTE:
        raise ValueError(f"{value} is not on a whole minute")
    return offset // MINUTE


def ceil_minute(value: datetime) -> int:
    return -((EPOCH - value) // MINUTE)


def from_minute(minute: int) -> datetime:
    return EPOCH + minute * MINUTE


@lru_cache(maxsize=1_000_000)
def local_wall(tz_name: str, minute: int) -> tuple[date, int, int]:
    """(local date, minute of the local day, fold) of a UTC minute."""
    local = from_minute(minute).astimezone(ZoneInfo(tz_name))
    return local.date(), local.hour * 60 + local.minute, local.fold


def minutes_of(intervals: Iterable[tuple[datetime, datetime]]) -> set[int]:
    result: set[int] = set()
    for start, end in intervals:
        result.update(range(to_minute(start), to_minute(end)))
    return result


def _wall(t: time, *, end: bool = False) -> int:
    minute = t.hour * 60 + t.minute
    return DAY_MINUTES if end and minute == 0 else minute


def _filled_per_date(tz_name: str, scan: range, wanted: Wanted) -> set[int]:
    spans: dict[date, list[int]] = {}
    for minute in scan:
        day, wall, _ = local_wall(tz_name, minute)
        if wanted(day, wall):
            span = spans.setdefault(day, [minute, minute])
            span[1] = minute
    result: set[int] = set()
    for first, last in spans.values():
        result.update(range(first, last + 1))
    return result


def _rule_wanted(rule: WeeklyRule, closed_days: frozenset[date]) -> Wanted:
    start, end = _wall(rule.start), _wall(rule.end, end=True)

    def wanted(day: date, wall: int) -> bool:
        return (
            day.weekday() == rule.weekday
            and (rule.valid_from is None or rule.valid_from <= day)
            and (rule.valid_until is None or day <= rule.valid_until)
            and day not in closed_days
            and start <= wall < end
        )

    return wanted


def _exception_wanted(exc: DateException) -> Wanted:
    start = 0 if exc.start is None else _wall(exc.start)
    end = DAY_MINUTES if exc.end is None else _wall(exc.end, end=True)

    def wanted(day: date, wall: int) -> bool:
        return exc.first_day <= day <= exc.last_day and start <= wall < end

    return wanted


def expand(
    rules: Sequence[WeeklyRule],
    exceptions: Sequence[DateException],
    window_start: datetime,
    window_end: datetime,
    closed_days: frozenset[date] = frozenset(),
) -> set[int]:
    """Available minutes in the window: (rules - off) | extra."""
    lo, hi = to_minute(window_start), to_minute(window_end)
    scan = range(lo - MARGIN, hi + MARGIN)
    weekly: set[int] = set()
    for rule in rules:
        weekly |= _filled_per_date(rule.tz, scan, _rule_wanted(rule, closed_days))
    off: set[int] = set()
    extra: set[int] = set()
    for exc in exceptions:
        (off if exc.kind == "off" else extra).update(_filled_per_date(exc.tz, scan, _exception_wanted(exc)))
    return {m for m in (weekly - off) | extra if lo <= m < hi}


def is_grid_start(minute: int, step: int, tz_name: str) -> bool:
    _, wall, fold = local_wall(tz_name, minute)
    return wall % step == 0 and fold == 0


def grid(window_start: datetime, window_end: datetime, step: int, tz_name: str) -> list[int]:
    return [m for m in range(ceil_minute(window_start), ceil_minute(window_end)) if is_grid_start(m, step, tz_name)]


class _Runs:
    """For each minute in [base, top): how many minutes in a row from it are in the set."""

    def __init__(self, members: set[int], base: int, top: int) -> None:
        self.base = base
        self.runs = [0] * (top - base + 1)
        for minute in range(top - 1, base - 1, -1):
            if minute in members:
                self.runs[minute - base] = self.runs[minute - base + 1] + 1

    def covers(self, start: int, length: int) -> bool:
        return length <= 0 or self.runs[start - self.base] >= length


def _id_key(value: int | str) -> tuple[int, int | str]:
    return (1 if isinstance(value, str) else 0), value


class _MediatorCheck:
    def __init__(self, mediator: Mediator, base: int, top: int) -> None:
        self.mediator = mediator
        self.before = mediator.buffer_before // MINUTE
        self.after = mediator.buffer_after // MINUTE
        self.available = _Runs(minutes_of(mediator.available), base, top)
        busy = minutes_of(mediator.busy) | minutes_of(mediator.meetings)
        self.not_busy = _Runs(set(range(base, top)) - busy, base, top)
        self.days = Counter(local_wall(mediator.tz, to_minute(s))[0] for s, _ in mediator.meetings)
        self.weeks = Counter(day.isocalendar()[:2] for day in self.days.elements())

    def free(self, start: int, length: int) -> bool:
        m = self.mediator
        if not self.available.covers(start, length):
            return False
        if not self.not_busy.covers(start - self.before, self.before + length + self.after):
            return False
        day = local_wall(m.tz, start)[0]
        if m.max_per_day is not None and self.days[day] >= m.max_per_day:
            return False
        return m.max_per_week is None or self.weeks[day.isocalendar()[:2]] < m.max_per_week


def find_slots(
    req: SearchRequest,
    *,
    people: Sequence[Person],
    mediators: Sequence[Mediator],
    rooms: Sequence[Room],
    now: datetime,
) -> list[OracleSlot]:
    """The first ``req.limit`` grid starts at which everyone is free, with the same choice rules."""
    bounds = [now, req.window_start] + ([req.earliest_start] if req.earliest_start else [])
    lo = ceil_minute(max(bounds))
    hi = to_minute(req.window_end)
    if req.latest_end is not None and not req.allow_late:
        hi = min(hi, to_minute(req.latest_end))
    length = req.duration // MINUTE
    pad = max([0] + [(m.buffer_before + m.buffer_after) // MINUTE for m in mediators])
    base, top = lo - pad, hi + pad
    people_free = [_Runs(minutes_of(p.available) - minutes_of(p.busy), base, top) for p in people]
    checks = [_MediatorCheck(m, base, top) for m in mediators]
    suitable = sorted((r for r in rooms if req.required_features <= r.features), key=lambda r: _id_key(r.id))
    room_free = [(r, _Runs(minutes_of(r.available) - minutes_of(r.busy), base, top)) for r in suitable]
    online_allowed = req.mode in ("online", "any") and req.online_ok
    in_person_allowed = req.mode in ("in_person", "any")
    first_mode = req.preferred_mode or "online"
    order = [first_mode, "in_person" if first_mode == "online" else "online"]
    step = req.grid // MINUTE
    result: list[OracleSlot] = []
    for start in range(lo, hi - length + 1):
        if len(result) >= req.limit:
            break
        if not is_grid_start(start, step, req.grid_tz):
            continue
        if not all(p.covers(start, length) for p in people_free):
            continue
        free = [c.mediator for c in checks if c.free(start, length)]
        room = next((r for r, runs in room_free if runs.covers(start, length)), None)
        for mode in order:
            if mode == "online":
                able = [m for m in free if online_allowed and m.online]
            else:
                able = [m for m in free if in_person_allowed and m.in_person and room is not None]
            if able:
                best = min(able, key=lambda m: (m.recent_assignments, _id_key(m.id)))
                result.append(_slot(req, start, length, best, mode, room if mode == "in_person" else None))
                break
    return result


def _slot(req: SearchRequest, start: int, length: int, mediator: Mediator, mode: str, room: Room | None) -> OracleSlot:
    end = from_minute(start + length)
    return OracleSlot(
        start=from_minute(start),
        end=end,
        mediator_id=mediator.id,
        mode=mode,
        room_id=None if room is None else room.id,
        venue_id=None if room is None else room.venue_id,
        late=req.latest_end is not None and end > req.latest_end,
    )
