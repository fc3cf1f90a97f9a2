"""Busy time in calendar data: pure functions from iCalendar text to aware UTC intervals.

Recurring events are expanded with their exceptions (RECURRENCE-ID overrides, EXDATE). Transparent and
cancelled events do not block; all-day events block the whole local day; floating times are read in
``default_tz``. Events this service wrote (``X-SEND-MEDIATION-SOURCE``) are skipped: they come back from
the server on every sync and already count as meetings.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar, Component

Interval = tuple[datetime, datetime]

# Written by booking.ical on every event this service stores in a CalDAV calendar.
SOURCE_PROPERTY = "X-SEND-MEDIATION-SOURCE"

# Wide enough for any zone's offset, so all-day and floating events near the window edges are found.
QUERY_MARGIN = timedelta(days=1)


def busy_intervals(
    ics_text: str, *, window_start: datetime, window_end: datetime, default_tz: str = "Europe/London"
) -> list[Interval]:
    """Blocking occurrences overlapping ``[window_start, window_end)``, clipped to it, sorted, in UTC."""
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("the window must be timezone-aware")
    zone = ZoneInfo(default_tz)
    intervals: list[Interval] = []
    for occurrence in _occurrences(ics_text, window_start - QUERY_MARGIN, window_end + QUERY_MARGIN):
        if not _blocks(occurrence):
            continue
        start, end = _utc_span(occurrence, zone)
        start, end = max(start, window_start.astimezone(UTC)), min(end, window_end.astimezone(UTC))
        if start < end:
            intervals.append((start, end))
    return sorted(intervals)


def event_uids(ics_text: str) -> set[str]:
    """The UIDs of the events in a calendar resource."""
    return {str(event["UID"]) for cal in _calendars(ics_text) for event in cal.walk("VEVENT") if "UID" in event}


def _calendars(ics_text: str) -> list[Calendar]:
    return list(Calendar.from_ical(ics_text, multiple=True))


def _occurrences(ics_text: str, start: datetime, end: datetime) -> Iterator[Component]:
    for cal in _calendars(ics_text):
        # A broken series in someone's calendar should cost that series, not the whole sync.
        query = recurring_ical_events.of(cal, components=["VEVENT"], skip_bad_series=True)
        yield from query.between(start, end)


def _blocks(event: Component) -> bool:
    if SOURCE_PROPERTY in event:
        return False
    if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return False
    return str(event.get("STATUS", "")).upper() != "CANCELLED"


def _utc_span(event: Component, zone: ZoneInfo) -> Interval:
    start, end = event.start, event.end
    return _to_utc(start, zone), _to_utc(end, zone)


def _to_utc(value: date | datetime, zone: ZoneInfo) -> datetime:
    if not isinstance(value, datetime):
        # A date is the local midnight in the default zone: a day is 23 or 25 hours across a clock change.
        value = datetime.combine(value, time(0), zone)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)
