"""SMS wording, GSM-7 rules and quiet hours. Pure: no database, no settings, no clock.

An SMS may be read on a lock screen or a shared phone, so it carries only a date, a time, a place (or "online") and
a link: never a name, the dispute or anything about health. Texts stay in the GSM-7 alphabet, where one message
holds 160 characters; a single character outside it switches the whole text to UCS-2 and 70 characters a message.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Europe/London"
SINGLE_SEGMENT = 160

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Each of these costs two septets (an escape and the character).
_GSM7_EXTENSION = frozenset("^{}\\[~]|€")
_LOOKALIKES = str.maketrans(
    {
        **dict.fromkeys("‘’‚‛′`´", "'"),
        **dict.fromkeys("“”„‟″«»", '"'),
        **dict.fromkeys("‐‑‒–—―−•·", "-"),
        **dict.fromkeys("\t\u00a0\u2002\u2003\u2007\u2009\u202f", " "),
        "…": "...",
    }
)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
TEMPLATES = {
    "offer": "Mediation: please choose a meeting time: {link}",
    "invitation": "Mediation meeting booked: {when}{where} Details: {link}",
    "update": "Mediation meeting changed, now: {when}{where} Details: {link}",
    "cancellation": "Mediation meeting on {when} is cancelled. Details: {link}",
    "reminder": "Reminder: mediation meeting {when}{where} Details: {link}",
}


def render_sms(
    kind: str, *, start: datetime | None = None, place: str | None = None, link: str, tz: str = DEFAULT_TZ
) -> str:
    """The text for ``kind`` (``place=None``: online). Past 160 characters the place is shortened, never the link."""
    template = TEMPLATES.get(kind)
    if template is None:
        raise ValueError(f"Unknown SMS kind {kind!r}; expected one of {sorted(TEMPLATES)}")
    if not link or not is_gsm7(link) or any(ch.isspace() for ch in link):
        raise ValueError(f"The link must be a URL in GSM-7 characters without spaces, not {link!r}")
    if "{when}" in template and (start is None or start.tzinfo is None):
        raise ValueError(f"A {kind} SMS needs an aware start datetime")
    when = format_when(start, tz) if start is not None else ""
    venue = None if place is None else to_gsm7(" ".join(place.split())).rstrip(" .,")

    def fill(where: str) -> str:
        return template.format(when=when, where=where, link=link)

    if venue is None:
        text = fill(", online.")
    else:
        text = fill(f", {venue}." if venue else ".")
    if venue and _septets(text) > SINGLE_SEGMENT:
        # The shortened place ends in "...", which stands in for the full stop.
        short = _shorten(venue, SINGLE_SEGMENT - _septets(fill(", ")))
        text = fill(f", {short}" if short else ".")
    return text


def format_when(start: datetime, tz: str = DEFAULT_TZ) -> str:
    """'Tue 14 Apr, 10:00' in local time, with English names whatever the process locale."""
    local = start.astimezone(ZoneInfo(tz))
    return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}, {local:%H:%M}"


def to_gsm7(text: str) -> str:
    """Replace curly quotes, dashes and accents GSM-7 lacks with near equivalents; anything else becomes '?'."""
    out = []
    for ch in text.translate(_LOOKALIKES):
        if is_gsm7(ch):
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(base if base and is_gsm7(base) else "?")
    return "".join(out)


def is_gsm7(text: str) -> bool:
    return all(ch in _GSM7_BASIC or ch in _GSM7_EXTENSION for ch in text)


def segments(text: str) -> int:
    """How many SMS parts ``text`` is sent as (GSM-7: 160, or 153 a part when split; UCS-2: 70, or 67)."""
    if not text:
        return 0
    if is_gsm7(text):
        units, single, part = [2 if ch in _GSM7_EXTENSION else 1 for ch in text], 160, 153
    else:
        units, single, part = [2 if ord(ch) > 0xFFFF else 1 for ch in text], 70, 67
    if sum(units) <= single:
        return 1
    count, used = 1, 0
    for unit in units:  # an escape pair or a surrogate pair is never split across parts
        if used + unit > part:
            count, used = count + 1, 0
        used += unit
    return count


def quiet_hours_deferral(
    now: datetime, *, tz: str = DEFAULT_TZ, start: time = time(20), end: time = time(8)
) -> datetime | None:
    """When ``now`` falls in quiet hours (local time), the aware UTC instant they end; otherwise None."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    overnight = start > end
    quiet = (clock >= start or clock < end) if overnight else (start <= clock < end)
    if not quiet:
        return None
    day: date = local.date() + timedelta(days=1) if overnight and clock >= start else local.date()
    # Build the wall-clock time in the zone, then convert: adding hours to an instant would drift across DST.
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


def _septets(text: str) -> int:
    return sum(2 if ch in _GSM7_EXTENSION else 1 for ch in text)


def _shorten(text: str, budget: int) -> str:
    if _septets(text) <= budget:
        return text
    if budget < 4:
        return ""
    cut, used = [], 0
    for ch in text:
        used += _septets(ch)
        if used > budget - 3:
            break
        cut.append(ch)
    kept = "".join(cut)
    if " " in kept[len(kept) // 2 :]:  # end on a whole word when that loses little
        kept = kept[: kept.rindex(" ")]
    kept = kept.rstrip(" ,.-")
    return f"{kept}..." if kept else ""
