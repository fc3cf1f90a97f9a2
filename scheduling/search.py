"""Slot search for a case: reads the local database only, in a fixed number of queries, and hands plain values to
the pure engine in scheduling.slots. No calendar server is ever called here (calendars are synced in the background).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q

from booking import statutory
from booking.models import Case, Meeting, Participant
from core.models import Organisation
from scheduling import slots as engine
from scheduling.caldav.sync import stale_resource_ids
from scheduling.models import AvailabilityException, AvailabilityRule, BusyBlock, Mediator, Occupancy, Resource, Room

FAMILY_ROLES = (Participant.Role.PARENT, Participant.Role.YOUNG_PERSON, Participant.Role.ALTERNATIVE_PERSON)
STAFF_ROLES = (Participant.Role.LA_OFFICER, Participant.Role.HEALTH_REPRESENTATIVE)
FAIRNESS_DAYS = 90
# A search for the first slots reads its window in pieces ending this many days after the first possible slot.
FIRST_LOOK_DAYS = (7, 14, 28, 42)
# Meetings this many days either side of a search window are read for the caps (a week, and a day for time zones).
CAP_MARGIN_DAYS = 8


@dataclass(frozen=True)
class SlotQuery:
    duration: timedelta = timedelta(hours=3)
    after: datetime | None = None
    before: datetime | None = None
    mode: str | None = None  # "online", "in_person" or None (from the family's wishes)
    limit: int = 20
    allow_late: bool = False
    mediator_ids: tuple[int, ...] | None = None  # restrict to these (default: the case's mediator, or all eligible)
    free_holds_of: tuple[int, ...] = ()  # offers whose holds count as free (a new offer replacing them)
    room_ids: tuple[int, ...] | None = None  # restrict to these of the case's rooms (default: all of them)
    free_meeting: int | None = None  # a meeting whose time counts as free (the meeting being moved)


@dataclass
class SearchResult:
    slots: list[engine.Slot]
    earliest_start: datetime
    latest_end: datetime | None
    window: tuple[datetime, datetime]
    mediators: dict[int, Mediator] = field(default_factory=dict)
    rooms: dict[int, Room] = field(default_factory=dict)
    earliest_by_mediator: dict[int, engine.Slot | None] = field(default_factory=dict)


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.DISPLAY_TIME_ZONE)


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=_tz()).astimezone(ZoneInfo("UTC"))


def closed_days(start: datetime, end: datetime) -> frozenset[date]:
    """Weekdays that are bank holidays in England (weekends are never in default hours anyway)."""
    first, last = start.astimezone(_tz()).date(), end.astimezone(_tz()).date()
    days = set()
    day = first
    while day <= last:
        if day.weekday() < 5 and not statutory.is_working_day(day):
            days.add(day)
        day += timedelta(days=1)
    return frozenset(days)


def _default_rules(organisation: Organisation | None, tz: str) -> list[engine.WeeklyRule]:
    if organisation is None:
        weekdays, start, end = [0, 1, 2, 3, 4], time(9, 30), time(16, 30)
    else:
        weekdays = [int(d) for d in organisation.default_weekdays.split(",") if d.strip()]
        start, end = organisation.default_day_start, organisation.default_day_end
    return [engine.WeeklyRule(weekday=d, start=start, end=end, tz=tz) for d in weekdays]


@dataclass
class _Loaded:
    rules: dict[int, list[engine.WeeklyRule]]
    exceptions: dict[int, list[engine.DateException]]
    busy: dict[int, list[engine.Interval]]
    meetings: dict[int, list[engine.Interval]]


def _load(resource_ids: Iterable[int], start: datetime, end: datetime, now: datetime) -> _Loaded:
    """Everything about the resources in the window: rules, exceptions, the meetings their caps count, busy time."""
    ids = list(resource_ids)
    loaded = _load_fixed(ids, start, end)
    _load_busy(loaded, ids, start, end, now, first=True)
    return loaded


def _load_fixed(
    resource_ids: Iterable[int], start: datetime, end: datetime, free_meeting: int | None = None
) -> _Loaded:
    """The resources' rules and exceptions, and the meetings their caps count. Busy time is read by `_load_busy`,
    a piece of the window at a time."""
    ids = list(resource_ids)
    loaded = _Loaded(defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(list))
    for r in AvailabilityRule.objects.filter(resource_id__in=ids):
        loaded.rules[r.resource_id].append(
            engine.WeeklyRule(r.weekday, r.start_time, r.end_time, r.timezone, r.valid_from, r.valid_until)
        )
    for e in AvailabilityException.objects.filter(resource_id__in=ids, last_day__gte=start.date() - timedelta(days=1)):
        loaded.exceptions[e.resource_id].append(
            engine.DateException(e.first_day, e.last_day, e.kind, e.start_time, e.end_time, e.timezone)
        )
    # The caps count a mediator's meetings per local day and per week, so the meetings of the days and weeks the
    # window cuts through count too, outside it (a search from a Thursday counts Monday's meetings).
    margin = timedelta(days=CAP_MARGIN_DAYS)
    meetings = Occupancy.objects.filter(
        resource_id__in=ids, active=True, kind=Occupancy.Kind.MEETING, start__lt=end + margin, end__gt=start - margin
    )
    if free_meeting is not None:
        meetings = meetings.exclude(meeting_id=free_meeting)
    for resource_id, meeting_start, meeting_end in meetings.values_list(
        "resource_id", "meeting__start", "meeting__end"
    ):
        if meeting_start is not None:
            loaded.meetings[resource_id].append((meeting_start, meeting_end))
    for resource_id in loaded.meetings:
        loaded.meetings[resource_id].sort()
    return loaded


def _load_busy(loaded: _Loaded, resource_ids: list[int], start: datetime, end: datetime, now: datetime, *,
               first: bool, free_holds_of: tuple[int, ...] = (), free_meeting: int | None = None) -> None:  # fmt: skip
    """Add the busy time (live occupancies and imported calendar time) of the window's piece [start, end): the first
    piece takes everything that overlaps it; a later one what begins in it (the rest was read with an earlier one).
    Read as tuples, not model objects: a national provider's search reads tens of thousands of these rows. The holds
    of the offers `free_holds_of`, and the occupancies of `free_meeting`, are left out."""
    live = Q(kind=Occupancy.Kind.MEETING) | Q(kind=Occupancy.Kind.HOLD, expires_at__gt=now)
    piece = Q(start__lt=end, end__gt=start) if first else Q(start__gte=start, start__lt=end)
    occupancies = Occupancy.objects.filter(piece, live, resource_id__in=resource_ids, active=True)
    if free_holds_of:
        occupancies = occupancies.exclude(offer_slot__offer_id__in=free_holds_of)
    if free_meeting is not None:
        occupancies = occupancies.exclude(meeting_id=free_meeting)
    blocks = BusyBlock.objects.filter(piece, resource_id__in=resource_ids)
    for qs in (occupancies, blocks):
        for resource_id, b_start, b_end in qs.values_list("resource_id", "start", "end"):
            loaded.busy[resource_id].append((b_start, b_end))


def _available(
    resource_id: int | None, loaded: _Loaded, defaults: list[engine.WeeklyRule], start: datetime, end: datetime,
    closed: frozenset[date],
) -> list[engine.Interval]:  # fmt: skip
    rules = loaded.rules.get(resource_id, []) if resource_id else []
    exceptions = loaded.exceptions.get(resource_id, []) if resource_id else []
    return engine.expand_availability(rules or defaults, exceptions, start, end, closed_days=closed)


def eligible_mediators(case: Case, *, on: date) -> list[Mediator]:
    """Mediators who may take this case at all: active, in date, of its provider, covering its area or online."""
    qs = Mediator.objects.filter(provider_id=case.provider_id, active=True, accreditation_expires__gte=on)
    qs = qs.filter(Q(areas=case.local_authority_id) | Q(online=True)).distinct()
    return list(qs.order_by("pk"))


def _family_busy(participant: Participant, start: datetime, end: datetime) -> list[engine.Interval]:
    """The family's weekly "cannot do" times, expanded in their own zone."""
    rules = [
        engine.WeeklyRule(u.weekday, u.start_time, u.end_time, participant.timezone)
        for u in participant.unavailable_times.all()
    ]
    return engine.expand_availability(rules, [], start, end) if rules else []


def _family_wishes(participants: list[Participant]) -> tuple[str | None, frozenset[str]]:
    family = [p for p in participants if p.role in FAMILY_ROLES]
    prefs = {p.meeting_preference for p in family} - {"either"}
    mode = prefs.pop() if len(prefs) == 1 else None
    features = set()
    for p in participants:
        if p.step_free_access:
            features.add("step_free")
        if p.hearing_loop:
            features.add("hearing_loop")
    return mode, frozenset(features)


def case_slot_search(*, case: Case, query: SlotQuery, now: datetime, per_mediator: bool = False) -> SearchResult:
    """The case's slots in the query's window (by default up to the mediation due date, or 6 weeks).

    Reading busy time is most of a search's cost, and most searches find their slots in the first weeks. So a search
    for the first `limit` slots reads the window a piece at a time (the week from the earliest allowed start, then up
    to 2, 4 and 6 weeks, then the rest), running the engine after each piece, and stops at the first answer that is
    the whole window's: `limit` start times (the engine returns them in time order, so no earlier start can lie
    further on), each meeting ending, with its mediator's buffer, inside what was read (so no busy time beyond it
    could have refused it). The earliest slot per mediator (matching) needs the whole window at once."""
    today = now.astimezone(_tz()).date()
    earliest_day = statutory.earliest_meeting_date(today, short_notice_consent=case.short_notice_consent)
    earliest_start = max(now, local_midnight(earliest_day))
    latest_end = local_midnight(case.mediation_due + timedelta(days=1)) if case.mediation_due else None
    start = max(query.after or now, now)
    default_end = latest_end if latest_end and not query.allow_late else None
    end = query.before or default_end or (start + timedelta(weeks=6))
    if query.allow_late and not query.before and latest_end:
        end = max(latest_end + timedelta(weeks=4), start + timedelta(weeks=1))
    if end <= start:
        return SearchResult([], earliest_start, latest_end, (start, end))
    return _search(case, query, now, today, earliest_start, latest_end, start, end, per_mediator=per_mediator)


def _piece_ends(start: datetime, first_slot: datetime, end: datetime) -> list[datetime]:
    """Where the pieces of the window end: 1, 2, 4 and 6 weeks from the first possible slot, then the window's end."""
    ends = [first_slot + timedelta(days=days) for days in FIRST_LOOK_DAYS]
    return [e for e in ends if start < e < end] + [end]


def _whole_answer(
    slots: list[engine.Slot], query: SlotQuery, mediators: dict[int, Mediator], read_to: datetime
) -> bool:
    if len({slot.start for slot in slots}) < query.limit:
        return False
    return all(
        slot.end + timedelta(minutes=mediators[slot.mediator_id].buffer_after_minutes) <= read_to for slot in slots
    )


def _search(
    case: Case,
    query: SlotQuery,
    now: datetime,
    today: date,
    earliest_start: datetime,
    latest_end: datetime | None,
    start: datetime,
    end: datetime,
    *,
    per_mediator: bool,
) -> SearchResult:
    result = SearchResult([], earliest_start, latest_end, (start, end))
    participants = list(case.participants.filter(required=True).prefetch_related("unavailable_times"))
    if query.mediator_ids is not None:
        mediators = [m for m in eligible_mediators(case, on=today) if m.pk in query.mediator_ids]
    elif case.mediator_id:
        mediators = [m for m in eligible_mediators(case, on=today) if m.pk == case.mediator_id]
    else:
        mediators = eligible_mediators(case, on=today)
    rooms = list(
        Room.objects.filter(
            venue__active=True, venue__online_only=False,
            venue__owner_id__in=[case.provider_id, case.local_authority_id],
            **({"pk__in": query.room_ids} if query.room_ids is not None else {}),
        ).select_related("venue", "venue__owner")
    )  # fmt: skip
    staff_users = [p.user_id for p in participants if p.role in STAFF_ROLES and p.user_id]
    resources = Resource.objects.filter(
        Q(mediator__in=mediators) | Q(room__in=rooms) | Q(user_id__in=staff_users)
    ).values_list("pk", "mediator_id", "room_id", "user_id")
    by_mediator, by_room, by_user = {}, {}, {}
    for pk, mediator_id, room_id, user_id in resources:
        if mediator_id:
            by_mediator[mediator_id] = pk
        elif room_id:
            by_room[room_id] = pk
        else:
            by_user[user_id] = pk
    resource_ids = [*by_mediator.values(), *by_room.values(), *by_user.values()]
    loaded = _load_fixed(resource_ids, start, end, query.free_meeting)
    stale_ids = stale_resource_ids(now=now, resource_ids=by_mediator.values())
    organisations = {o.pk: o for o in Organisation.objects.filter(pk__in=[case.provider_id, case.local_authority_id])}
    provider, authority = organisations.get(case.provider_id), organisations.get(case.local_authority_id)

    recent = dict(
        Meeting.objects.filter(mediator__in=mediators, created_at__gte=now - timedelta(days=FAIRNESS_DAYS))
        .exclude(status=Meeting.Status.CANCELLED)
        .values_list("mediator_id")
        .annotate(n=Count("pk"))
    )
    by_id = {m.pk: m for m in mediators}
    # No slot starts before the earliest allowed start, so busy time that ends a day (and the longest buffer) before
    # it cannot refuse one: the notice period's busy time is not read.
    reach = timedelta(days=1, minutes=max((m.buffer_before_minutes for m in mediators), default=0))
    read_to = max(start, earliest_start - reach)
    ends = [end] if per_mediator else _piece_ends(start, max(start, earliest_start), end)
    for number, piece_end in enumerate(ends):
        _load_busy(loaded, resource_ids, read_to, piece_end, now, first=number == 0, free_holds_of=query.free_holds_of,
                   free_meeting=query.free_meeting)  # fmt: skip
        read_to = piece_end
        closed = closed_days(start, piece_end)
        people = []
        for p in participants:
            if p.role in STAFF_ROLES and p.user_id:
                rid = by_user.get(p.user_id)
                org = organisations.get(p.organisation_id) or authority
                available = _available(rid, loaded, _default_rules(org, p.timezone), start, piece_end, closed)
                people.append(engine.Person(p.pk, available, loaded.busy.get(rid, []) if rid else []))
            elif p.role in FAMILY_ROLES:
                people.append(engine.Person(p.pk, [(start, piece_end)], _family_busy(p, start, piece_end)))
        engine_mediators = []
        for m in mediators:
            rid = by_mediator.get(m.pk)
            engine_mediators.append(
                engine.Mediator(
                    id=m.pk,
                    available=_available(rid, loaded, _default_rules(provider, m.timezone), start, piece_end, closed),
                    busy=loaded.busy.get(rid, []) if rid else [],
                    buffer_before=timedelta(minutes=m.buffer_before_minutes),
                    buffer_after=timedelta(minutes=m.buffer_after_minutes),
                    meetings=loaded.meetings.get(rid, []) if rid else [],
                    max_per_day=m.max_meetings_per_day,
                    max_per_week=m.max_meetings_per_week,
                    tz=m.timezone,
                    online=m.online,
                    in_person=m.in_person,
                    recent_assignments=float(recent.get(m.pk, 0)),
                    stale_calendar=rid in stale_ids,
                )
            )
        engine_rooms = []
        for room in rooms:
            rid = by_room.get(room.pk)
            venue = room.venue
            if venue.opens_at and venue.closes_at:
                defaults = [engine.WeeklyRule(d, venue.opens_at, venue.closes_at, venue.timezone) for d in range(5)]
            else:
                defaults = _default_rules(venue.owner, venue.timezone)
            features = frozenset(venue.features) | frozenset(room.features)
            engine_rooms.append(
                engine.Room(
                    room.pk, venue.pk, _available(rid, loaded, defaults, start, piece_end, closed),
                    loaded.busy.get(rid, []) if rid else [], features,
                )
            )  # fmt: skip

        family_mode, features = _family_wishes(participants)
        mode = query.mode or family_mode or "any"
        request = engine.SearchRequest(
            window_start=start,
            window_end=piece_end,
            duration=query.duration,
            earliest_start=earliest_start,
            latest_end=latest_end,
            allow_late=query.allow_late,
            mode=mode,  # type: ignore[arg-type]
            online_ok=query.mode == "online" or family_mode != "in_person",  # staff asking for online decide
            required_features=features,
            preferred_mode=family_mode,  # type: ignore[arg-type]
            limit=query.limit,
        )
        inputs = {"people": people, "mediators": engine_mediators, "rooms": engine_rooms, "now": now}
        if per_mediator:
            result.earliest_by_mediator = engine.earliest_per_mediator(request, **inputs)  # type: ignore[arg-type]
        else:
            result.slots = engine.find_slots(request, **inputs)  # type: ignore[arg-type]
        if per_mediator or piece_end == end or _whole_answer(result.slots, query, by_id, piece_end):
            break
    result.mediators = by_id
    result.rooms = {r.pk: r for r in rooms}
    return result
