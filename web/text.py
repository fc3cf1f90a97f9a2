"""Dates, times and places in plain English, as the GOV.UK style guide writes them. Pure: no ORM, no clock."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FEATURE_WORDS = {
    "step_free": "step-free access",
    "hearing_loop": "hearing loop",
    "accessible_toilet": "accessible toilet",
    "quiet_room": "quiet room",
    "parking": "parking",
    "breakout_rooms": "a room to take a break",
}


def clock(moment: datetime) -> str:
    """10am, 1:30pm, midday, midnight."""
    if moment.hour == 12 and moment.minute == 0:
        return "midday"
    if moment.hour == 0 and moment.minute == 0:
        return "midnight"
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    return f"{hour}{suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d}{suffix}"


def day(value: date) -> str:
    """Tuesday 14 April."""
    return f"{value:%A} {value.day} {value:%B}"


def long_day(value: date) -> str:
    """Tuesday 14 April 2026."""
    return f"{day(value)} {value.year}"


def when(start: datetime, end: datetime, tz: str) -> str:
    """Tuesday 14 April 2026, 10am to 1pm (in the given zone): with the year, as times are offered across one."""
    zone = ZoneInfo(tz)
    a, b = start.astimezone(zone), end.astimezone(zone)
    if a.date() == b.date():
        return f"{long_day(a.date())}, {clock(a)} to {clock(b)}"
    return f"{long_day(a.date())}, {clock(a)} to {long_day(b.date())}, {clock(b)}"


def features(names: list[str]) -> str:
    words = [FEATURE_WORDS[n] for n in names if n in FEATURE_WORDS]
    if len(words) > 1:
        return ", ".join(words[:-1]) + " and " + words[-1]
    return words[0] if words else ""


def place(venue_name: str | None, town: str = "", feature_names: list[str] | None = None) -> str:
    """County Hall, Downsbridge: step-free access. None means an online meeting."""
    if venue_name is None:
        return "Online"
    name = venue_name if not town or town in venue_name else f"{venue_name}, {town}"
    access = features(feature_names or [])
    return f"{name}: {access}" if access else name


def days_left(due: date | None, today: date) -> str:
    if due is None:
        return ""
    n = (due - today).days
    if n == 0:
        return "due today"
    if n == 1:
        return "due tomorrow"
    if n > 1:
        return f"in {n} days"
    return "1 day overdue" if n == -1 else f"{-n} days overdue"
