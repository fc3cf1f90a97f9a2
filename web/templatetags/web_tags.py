from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms, template
from django.conf import settings

from booking.states import STATE_LABELS
from web import text

register = template.Library()

STATE_COLOURS = {
    "advice_requested": "grey",
    "mediation_requested": "light-blue",
    "issues_captured": "light-blue",
    "icb_notified": "light-blue",
    "scheduling": "yellow",
    "scheduled": "green",
    "held": "turquoise",
    "concluded": "turquoise",
    "certificate_issued": "purple",
    "actions_open": "purple",
    "closed": "grey",
    "declined": "grey",
    "withdrawn": "grey",
    "not_arranged_30_days": "red",
}


def _tz() -> str:
    return settings.DISPLAY_TIME_ZONE


@register.filter
def when(item: Any) -> str:
    """An offered slot, a meeting or a search result as "Tuesday 14 April, 10am to 1pm"."""
    return text.when(item.start, item.end, _tz())


@register.filter
def place(item: Any) -> str:
    room = getattr(item, "room", None)
    if room is None:
        return "Online"
    venue = room.venue
    return text.place(venue.name, venue.town, list(venue.features))


@register.filter
def address(item: Any) -> str:
    room = getattr(item, "room", None)
    if room is None:
        return ""
    venue = room.venue
    return ", ".join(part for part in (venue.address, venue.postcode) if part)


@register.filter
def long_day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(_tz())).date()
    return text.long_day(value)


@register.filter
def local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    moment = value.astimezone(ZoneInfo(_tz()))
    return f"{text.long_day(moment.date())}, {text.clock(moment)}"


@register.simple_tag
def days_left(due: date | None, today: date) -> str:
    return text.days_left(due, today)


@register.filter
def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)


@register.filter
def state_colour(state: str) -> str:
    return STATE_COLOURS.get(state, "grey")


def _anchor(field: forms.BoundField) -> str:
    if isinstance(field.field.widget, forms.RadioSelect | forms.CheckboxSelectMultiple):
        return f"{field.auto_id}_0"
    return field.auto_id


@register.simple_tag
def error_list(form: Any) -> list[tuple[str, str]]:
    """(anchor, message) for the error summary, in the order of the fields on the page."""
    if not isinstance(form, forms.BaseForm) or not form.errors:
        return []
    items = []
    first = next(iter(form), None)
    for message in form.non_field_errors():
        items.append((_anchor(first) if first is not None else "main-content", message))
    for field in form:
        for message in field.errors:
            items.append((_anchor(field), message))
    return items


@register.filter
def is_checked(field: Any, value: Any) -> bool:
    if not isinstance(field, forms.BoundField):
        return False
    current = field.value()
    if isinstance(current, list | tuple):
        return str(value) in [str(v) for v in current]
    return current is not None and str(current) == str(value)


@register.filter
def weekday(number: int) -> str:
    """0 → Monday."""
    return text.WEEKDAY_NAMES[number]
