"""iCalendar invitations (RFC 5545), iTIP (RFC 5546) and iMIP (RFC 6047): build them and read replies.

Pure: no ORM, no settings, no clock. The caller passes ``dtstamp`` (the time of each send) and owns UID and
SEQUENCE: one UID per meeting for life, SEQUENCE raised for every change attendees must see.

Only neutral words go into a calendar: the SUMMARY defaults to "Mediation meeting", and nothing about the case
(no child's name, no dispute, no health detail) has a field here to travel in.
"""

from __future__ import annotations

import email.message
import email.utils
import functools
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import (
    Alarm,
    Calendar,
    Component,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vDuration,
)

logger = logging.getLogger(__name__)
PRODID = "-//Mediation Booking//EN"
SOURCE_PROPERTY = "X-SEND-MEDIATION-SOURCE"
ROLES = frozenset({"CHAIR", "REQ-PARTICIPANT", "OPT-PARTICIPANT"})
PARTSTATS = frozenset({"ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED", "NEEDS-ACTION"})
CALENDAR_TYPES = frozenset({"text/calendar", "application/ics"})
FEED_REFRESH = timedelta(hours=1)


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str
    role: str
    partstat: str = "NEEDS-ACTION"
    rsvp: bool = True

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {sorted(ROLES)}, not {self.role!r}")
        if self.partstat not in PARTSTATS:
            raise ValueError(f"partstat must be one of {sorted(PARTSTATS)}, not {self.partstat!r}")


@dataclass(frozen=True, kw_only=True)
class MeetingInvite:
    uid: str
    sequence: int
    start: datetime
    end: datetime
    tz: str = "Europe/London"
    summary: str = "Mediation meeting"
    location: str
    description: str
    organizer_email: str
    organizer_name: str
    attendees: list[Attendee] = field(default_factory=list)
    cancelled: bool = False
    url: str | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.sequence < 0:
            raise ValueError("sequence must not be negative")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.tz!r}") from exc


@dataclass(frozen=True)
class Reply:
    uid: str
    sequence: int
    attendee_email: str
    partstat: str
    comment: str | None
    dtstamp: datetime | None


# Building


def build_request(invite: MeetingInvite, *, dtstamp: datetime) -> bytes:
    """METHOD:REQUEST for a new or changed meeting, with a reminder a day before."""
    if invite.cancelled:
        raise ValueError("a cancelled meeting is sent with build_cancel")
    _require_attendees(invite.attendees)
    event = _event(invite, dtstamp, status="CONFIRMED", attendees=invite.attendees, organizer=True)
    event.add_component(Alarm.new_display(f"Reminder: {invite.summary}", trigger=timedelta(days=-1)))
    return _calendar("REQUEST", [event], [invite]).to_ical()


def build_cancel(invite: MeetingInvite, *, dtstamp: datetime, attendees: list[Attendee] | None = None) -> bytes:
    """METHOD:CANCEL: the whole meeting (``attendees`` None), or uninviting the ``attendees`` given.

    ``invite`` is the meeting as it now stands, its SEQUENCE already raised for this change.
    RFC 5546 section 3.2.5: STATUS:CANCELLED cancels the entire event, and MUST NOT be sent when only
    some attendees are uninvited from a meeting that goes on.
    """
    whole = attendees is None or invite.cancelled
    recipients = invite.attendees if attendees is None else attendees
    _require_attendees(recipients)
    status = "CANCELLED" if whole else None
    event = _event(invite, dtstamp, status=status, attendees=recipients, organizer=True)
    return _calendar("CANCEL", [event], [invite]).to_ical()


def build_publish(invites: Iterable[MeetingInvite], *, dtstamp: datetime, name: str) -> bytes:
    """METHOD:PUBLISH subscription feed; cancelled meetings stay in it with STATUS:CANCELLED.

    RFC 5546 section 3.2.1 allows no ATTENDEE in PUBLISH, which also keeps other people's addresses out
    of a feed.
    """
    meetings = list(invites)
    events = [
        _event(m, dtstamp, status="CANCELLED" if m.cancelled else "CONFIRMED", attendees=[], organizer=True)
        for m in meetings
    ]
    cal = _calendar("PUBLISH", events, meetings)
    cal.add("NAME", name)
    cal.add("X-WR-CALNAME", name)
    # RFC 7986 requires VALUE=DURATION here; icalendar leaves it out unless asked.
    cal.add("REFRESH-INTERVAL", FEED_REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("X-PUBLISHED-TTL", vDuration(FEED_REFRESH).to_ical().decode())
    return cal.to_ical()


def build_for_caldav(invite: MeetingInvite, *, dtstamp: datetime) -> str:
    """The meeting as a CalDAV resource: no METHOD (RFC 4791 section 4.1) and marked as ours.

    ORGANIZER and ATTENDEE are left out: a server with implicit scheduling (RFC 6638) would otherwise
    send its own invitations or replies next to ours.
    """
    status = "CANCELLED" if invite.cancelled else "CONFIRMED"
    event = _event(invite, dtstamp, status=status, attendees=[], organizer=False)
    event.add(SOURCE_PROPERTY, "1")
    if not invite.cancelled:
        event.add_component(Alarm.new_display(f"Reminder: {invite.summary}", trigger=timedelta(days=-1)))
    return _calendar(None, [event], [invite]).to_ical().decode("utf-8")


def _require_attendees(attendees: list[Attendee]) -> None:
    if not attendees:
        raise ValueError("an iTIP REQUEST or CANCEL needs at least one attendee")


def _event(
    invite: MeetingInvite, dtstamp: datetime, *, status: str | None, attendees: list[Attendee], organizer: bool
) -> Event:
    zone = ZoneInfo(invite.tz)
    start, end = invite.start.astimezone(zone), invite.end.astimezone(zone)
    if _repeated(start) or _repeated(end):
        # The hour the clocks go back comes twice, and a local time with TZID names the first (RFC 5545 3.3.5):
        # such a meeting is written in UTC, which every client reads the same way.
        start, end = start.astimezone(UTC), end.astimezone(UTC)
    event = Event.new(
        uid=invite.uid,
        sequence=invite.sequence,
        stamp=dtstamp.astimezone(UTC),
        start=start,
        end=end,
        summary=invite.summary,
        location=invite.location,
        description=invite.description,
        organizer=vCalAddress.new(invite.organizer_email, cn=_cn(invite.organizer_name)) if organizer else None,
        attendees=[_address(a) for a in attendees],
        transparency="OPAQUE",
        url=invite.url,
    )
    if status is not None:
        event.add("STATUS", status)
    return event


def _repeated(local: datetime) -> bool:
    """Whether this wall-clock time happens twice in its zone (the hour before the clocks go back)."""
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


def _address(attendee: Attendee) -> vCalAddress:
    return vCalAddress.new(
        attendee.email,
        cn=_cn(attendee.name),
        cutype="INDIVIDUAL",
        role=attendee.role,
        partstat=attendee.partstat,
        rsvp=attendee.rsvp,
    )


def _cn(name: str) -> str:
    # RFC 5545 allows a backslash in a parameter value, but readers (icalendar among them) take "\\;" for an
    # escaped semicolon and lose the rest of the line; a display name does without it.
    return name.replace("\\", "/")


def _calendar(method: str | None, events: list[Event], invites: list[MeetingInvite]) -> Calendar:
    cal = Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    if method is not None:
        cal.add("METHOD", method)
    first = last = None
    if invites:
        first = min(i.start.astimezone(ZoneInfo(i.tz)).date() for i in invites)
        last = max(i.end.astimezone(ZoneInfo(i.tz)).date() for i in invites)
        for tzid in sorted({i.tz for i in invites} - {"UTC"}):
            vtimezone = _yearly_vtimezone(tzid, first.year, last.year)
            if vtimezone is not None:
                cal.add_component(vtimezone)  # before the events, as clients expect
    for event in events:
        cal.add_component(event)
    if first is not None and last is not None and cal.get_missing_tzids():
        # A zone whose changes follow no yearly rule: each change written out, for only the years the events need
        # (the default range, 1970-2038, adds kilobytes of RDATEs).
        cal.add_missing_timezones(first_date=date(first.year, 1, 1), last_date=date(last.year + 1, 1, 1))
        _fix_onsets(cal)
    return cal


WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _yearly_vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone | None:
    """The zone as Outlook writes and reads it: one STANDARD and one DAYLIGHT observance, each with a yearly rule
    (Europe/London: the last Sunday of March at 01:00, of October at 02:00), starting the year before the events.
    None when its clock changes from then to a year past the last follow no such rule."""
    # From the year before: the rules must already be in force on 1 January of the first year (RFC 5545 leaves an
    # event before every observance's DTSTART undefined).
    years = range(first_year - 1, last_year + 2)
    changes = [_changes(tzid, year) for year in years]
    if not changes[0]:
        if any(changes):
            return None
        offset = datetime(first_year, 1, 1, tzinfo=UTC).astimezone(ZoneInfo(tzid))
        standard = TimezoneStandard()
        standard.add("DTSTART", datetime(first_year - 1, 1, 1))  # noqa: DTZ001 (a VTIMEZONE's onsets are local times)
        standard.add("TZOFFSETFROM", offset.utcoffset())
        standard.add("TZOFFSETTO", offset.utcoffset())
        standard.add("TZNAME", offset.tzname())
        return _timezone(tzid, [standard])
    rules = [[(onset.month, _byday(onset), onset.time(), before, after) for onset, before, after, _ in year]
             for year in changes]  # fmt: skip
    if any(len(year) != 2 or year != rules[0] for year in rules):
        return None
    observances = []
    for (onset, before, after, name), (month, byday, *_) in zip(changes[0], rules[0], strict=True):
        observance = TimezoneDaylight() if after > before else TimezoneStandard()
        observance.add("DTSTART", onset)
        observance.add("TZOFFSETFROM", before)
        observance.add("TZOFFSETTO", after)
        observance.add("TZNAME", name)
        observance.add("RRULE", {"FREQ": "YEARLY", "BYMONTH": month, "BYDAY": byday})
        observances.append(observance)
    return _timezone(tzid, observances)


def _timezone(tzid: str, observances: list[Component]) -> Timezone:
    vtimezone = Timezone()
    vtimezone.add("TZID", tzid)
    for observance in observances:
        vtimezone.add_component(observance)
    return vtimezone


@functools.lru_cache(maxsize=64)
def _changes(tzid: str, year: int) -> list[tuple[datetime, timedelta, timedelta, str]]:
    """The zone's clock changes in a year: (the wall clock it happens at, read in the offset before; the offsets
    before and after; the name after). Worked out once per zone and year."""
    zone = ZoneInfo(tzid)
    found = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    before = _offset(zone, day)
    while day.year == year:
        after = _offset(zone, day + timedelta(days=1))
        if after != before:
            low, high = 0, 24 * 3600  # seconds into the day: the change is in (low, high]
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (
                    (middle, high) if _offset(zone, day + timedelta(seconds=middle)) == before else (low, middle)
                )
            assert before is not None and after is not None
            instant = day + timedelta(seconds=high)
            found.append(
                ((instant + before).replace(tzinfo=None), before, after, str(instant.astimezone(zone).tzname()))
            )
            before = after
        day += timedelta(days=1)
    return found


def _byday(onset: datetime) -> str:
    """The weekday of the month an onset falls on, as RRULE writes it: -1SU for the last Sunday, 2SU the second."""
    month_days = ((onset.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day
    nth = -1 if onset.day + 7 > month_days else (onset.day - 1) // 7 + 1
    return f"{nth}{WEEKDAYS[onset.weekday()]}"


def _fix_onsets(cal: Calendar) -> None:
    """Write each observance onset as the wall clock of TZOFFSETFROM (RFC 5545 section 3.6.5).

    icalendar 7.3 writes spring-forward onsets in the new offset (Europe/London 02:00 instead of 01:00),
    which moves the transition an hour late for clients that read the VTIMEZONE itself, as Outlook does.
    """
    for vtimezone in cal.walk("VTIMEZONE"):
        zone = ZoneInfo(str(vtimezone["TZID"]))
        for observance in vtimezone.subcomponents:
            before, after = observance["TZOFFSETFROM"].td, observance["TZOFFSETTO"].td
            rdates = [d.dt for rdate in _as_list(observance.get("RDATE")) for d in rdate.dts]
            onsets = [observance["DTSTART"].dt, *rdates]
            fixed = [_onset(zone, onset, before, after) for onset in onsets]
            if fixed == onsets:
                continue
            observance.pop("DTSTART")
            observance.add("DTSTART", fixed[0])
            observance.pop("RDATE", None)
            for onset in fixed[1:]:
                observance.add("RDATE", onset)


def _onset(zone: ZoneInfo, local: datetime, before: timedelta, after: timedelta) -> datetime:
    if before == after:
        return local
    for offset in (before, after):
        instant = (local - offset).replace(tzinfo=UTC)
        if _offset(zone, instant - timedelta(seconds=1)) == before and _offset(zone, instant) == after:
            return (instant + before).replace(tzinfo=None)
    return local


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta | None:
    return instant.astimezone(zone).utcoffset()


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# Reading replies


def parse_reply(data: bytes | str, *, method_hint: str | None = None) -> list[Reply]:
    """Every attendee answer in an iTIP REPLY.

    ``method_hint`` is the ``method`` parameter of the MIME part, used when the calendar itself has no
    METHOD. Anything that is not a REPLY gives no answers; data that is not iCalendar raises ValueError.
    """
    replies: list[Reply] = []
    for cal in _calendars(data):
        method = str(cal.get("METHOD") or method_hint or "").strip().upper()
        if method != "REPLY":
            continue
        for event in cal.walk("VEVENT"):
            replies.extend(_event_replies(event))
    return replies


def replies_from_message(message: email.message.Message) -> list[Reply]:
    """The sender's answers in a whole email, once each (Gmail sends the same REPLY inline and as invite.ics).

    A REPLY speaks for its sender only (RFC 5546 section 3.2.3): an ATTENDEE line for anyone else is ignored, so
    one invitee cannot answer for another."""
    sender = email.utils.parseaddr(str(message.get("From", "")))[1].strip().lower()
    seen: dict[Reply, None] = {}
    for method, data in find_calendar_parts(message):
        for reply in parse_reply(data, method_hint=method):
            if sender and reply.attendee_email.lower() == sender:
                seen.setdefault(reply, None)
            else:  # an alias, a delegate, a rewritten address: told apart from a forgery by no one, so not applied
                logger.warning("a REPLY for %s came from another address; not applied", reply.uid)
    return list(seen)


def find_calendar_parts(message: email.message.Message) -> list[tuple[str | None, bytes]]:
    """Each text/calendar or .ics part of a parsed RFC 5322 message: (method parameter, UTF-8 bytes)."""
    parts: list[tuple[str | None, bytes]] = []
    for part in message.walk():
        if part.is_multipart() or not _is_calendar_part(part):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload.strip():
            continue
        parts.append((_method_param(part), _to_utf8(payload, part.get_content_charset())))
    return parts


def _is_calendar_part(part: email.message.Message) -> bool:
    filename = (part.get_filename() or "").lower()
    return part.get_content_type() in CALENDAR_TYPES or filename.endswith(".ics")


def _method_param(part: email.message.Message) -> str | None:
    value = part.get_param("method")
    if not value:
        return None
    return email.utils.collapse_rfc2231_value(value).strip().upper() or None


def _to_utf8(payload: bytes, charset: str | None) -> bytes:
    try:
        return payload.decode(charset or "utf-8", errors="replace").encode("utf-8")
    except LookupError:
        return payload.decode("utf-8", errors="replace").encode("utf-8")


def _calendars(data: bytes | str) -> list[Calendar]:
    try:
        return list(Calendar.from_ical(data, multiple=True))
    except ValueError as exc:
        raise ValueError(f"not an iCalendar object: {exc}") from exc


def _event_replies(event: Component) -> Iterator[Reply]:
    uid = event.get("UID")
    if uid is None:
        return
    sequence = _sequence(event)
    comment = "\n".join(str(c).strip() for c in _as_list(event.get("COMMENT"))).strip() or None
    stamp = event.get("DTSTAMP")
    dtstamp = _utc(stamp.dt) if stamp is not None and isinstance(stamp.dt, datetime) else None
    for attendee in _as_list(event.get("ATTENDEE")):
        address = _email(attendee)
        if address:
            partstat = str(attendee.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
            # RFC 5545 section 3.2.12: an unknown value is read as NEEDS-ACTION.
            partstat = partstat if partstat in PARTSTATS else "NEEDS-ACTION"
            yield Reply(str(uid), sequence, address, partstat, comment, dtstamp)


def _sequence(event: Component) -> int:
    try:
        return int(event.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        return 0


def _email(address: vCalAddress) -> str:
    value = str(address).strip()
    if value.lower().startswith("mailto:"):
        return value[len("mailto:") :].strip().lower()
    # Apple sometimes identifies attendees by a urn:uuid and gives the address in EMAIL (RFC 7986).
    return str(address.params.get("EMAIL", "")).strip().lower()


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
