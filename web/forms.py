"""Input for the pages. Each form says what is wrong in words a person can act on (GOV.UK error message style)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings

from booking.models import Meeting, OfferSlot
from booking.offers import SlotChoice
from web import text

ATTENDANCE = [("in_person", "I will come in person"), ("online", "I will join online")]
WEEKDAYS = list(enumerate(text.WEEKDAY_NAMES))


def _strip(value: Any) -> str:
    return (value or "").strip()


class FamilyChoiceForm(forms.Form):
    slot = forms.TypedChoiceField(
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a time for the meeting"},
    )
    attendance = forms.ChoiceField(choices=ATTENDANCE, widget=forms.RadioSelect, required=False)
    supporter_name = forms.CharField(max_length=200, required=False, label="Their name")
    supporter_relationship = forms.CharField(
        max_length=100, required=False, label="How they know you", help_text="For example, friend, aunt or adviser"
    )
    interpreter_language = forms.CharField(
        max_length=40, required=False, label="Which language?", help_text="For example, Polish or British Sign Language"
    )
    adjustments = forms.CharField(
        max_length=2000,
        required=False,
        label="Is there anything else you need? (optional)",
        help_text="For example, breaks, a quiet room or large print",
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args: Any, options: list[OfferSlot], tz: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options = {s.pk: s for s in options}
        self.fields["slot"].choices = [(s.pk, text.when(s.start, s.end, tz)) for s in options]
        self.fields["slot"].error_messages["invalid_choice"] = "That time is no longer free. Choose another time"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        slot = self.options.get(data.get("slot")) if data.get("slot") else None
        attendance = data.get("attendance")
        if slot is not None and slot.mode == "online" and attendance == "in_person":
            self.add_error("attendance", "This time is online only. Choose ‘I will join online’ or another time")
        if _strip(data.get("supporter_relationship")) and not _strip(data.get("supporter_name")):
            self.add_error("supporter_name", "Enter your supporter’s name")
        return data


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        label="Tell us why (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class FamilyCancelForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        label="Why are you cancelling?",
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Tell us why you are cancelling"},
    )


class RuleForm(forms.Form):
    weekday = forms.TypedChoiceField(
        choices=WEEKDAYS, coerce=int, label="Day", error_messages={"required": "Choose a day"}
    )
    start_time = forms.TimeField(
        label="From", widget=forms.TimeInput(attrs={"type": "time"}), error_messages={"required": "Enter a start time"}
    )
    end_time = forms.TimeField(
        label="To", widget=forms.TimeInput(attrs={"type": "time"}), error_messages={"required": "Enter an end time"}
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("start_time") and data.get("end_time") and data["end_time"] <= data["start_time"]:
            self.add_error("end_time", "The end time must be after the start time")
        return data


class ExceptionForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[("off", "Not available (day off)"), ("extra", "Extra time I can work")],
        widget=forms.RadioSelect,
        label="What kind of change?",
        error_messages={"required": "Choose what kind of change this is"},
    )
    first_day = forms.DateField(
        label="First day", widget=forms.DateInput(attrs={"type": "date"}), error_messages={"required": "Enter a day"}
    )
    last_day = forms.DateField(
        label="Last day (optional)",
        required=False,
        help_text="Leave empty for one day",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    start_time = forms.TimeField(
        label="From (optional)", required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    end_time = forms.TimeField(label="To (optional)", required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    note = forms.CharField(max_length=200, required=False, label="Note (optional)")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        first, last = data.get("first_day"), data.get("last_day")
        if first and not last:
            data["last_day"] = first
        elif first and last and last < first:
            self.add_error("last_day", "The last day must be the same as or after the first day")
        elif first and last and (last - first).days > 366:
            self.add_error("last_day", "A change can cover a year at most")
        start, end = data.get("start_time"), data.get("end_time")
        if (start is None) != (end is None):
            self.add_error("end_time" if end is None else "start_time", "Enter both times, or neither for whole days")
        elif start and end and end <= start:
            self.add_error("end_time", "The end time must be after the start time")
        if data.get("kind") == "extra" and start is None and end is None:
            self.add_error("start_time", "Extra time needs a start and end time")
        return data


class AssignForm(forms.Form):
    mediator = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


def slot_value(start: datetime, end: datetime, mediator_id: int, room_id: int | None, mode: str) -> str:
    """A search result as one checkbox value."""
    return f"{start.isoformat()}|{end.isoformat()}|{mediator_id}|{room_id or ''}|{mode}"


def parse_slot_value(value: str) -> SlotChoice | None:
    try:
        start, end, mediator, room, mode = value.split("|")
        choice = SlotChoice(
            datetime.fromisoformat(start), datetime.fromisoformat(end), int(mediator), int(room) if room else None, mode
        )
    except ValueError:
        return None
    if choice.start.tzinfo is None or choice.end <= choice.start or mode not in ("online", "in_person"):
        return None
    return choice


class EncodedSlotsField(forms.MultipleChoiceField):
    def valid_value(self, value: Any) -> bool:
        return parse_slot_value(str(value)) is not None


class OfferForm(forms.Form):
    """Either slots chosen by checkbox (each "start|end|mediator|room|mode"), or the best N."""

    slot = EncodedSlotsField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "One of the times could not be read. Search again"},
    )
    best = forms.IntegerField(required=False, min_value=1, max_value=6)

    def choices(self) -> list[SlotChoice]:
        if self.cleaned_data.get("best"):
            return []  # "offer the best N" wins over any boxes ticked
        return [c for c in (parse_slot_value(v) for v in self.cleaned_data.get("slot") or []) if c is not None]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("slot") and not data.get("best") and not self.errors:
            self.add_error("slot", "Choose at least one time, or offer the best 3")
        if data.get("slot") and len(data["slot"]) > 6:
            self.add_error("slot", "Offer 6 times at most")
        return data


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.DISPLAY_TIME_ZONE)


class RescheduleForm(forms.Form):
    day = forms.DateField(
        label="New day", widget=forms.DateInput(attrs={"type": "date"}), error_messages={"required": "Enter a day"}
    )
    start = forms.TimeField(
        label="New start time",
        widget=forms.TimeInput(attrs={"type": "time"}),
        error_messages={"required": "Enter a start time"},
    )

    def clean_day(self) -> date:
        day: date = self.cleaned_data["day"]
        if not 2000 <= day.year < 2100:
            raise forms.ValidationError("Enter a day between the years 2000 and 2099")
        return day

    def new_times(self, meeting: Meeting) -> tuple[datetime, datetime]:
        day: date = self.cleaned_data["day"]
        start_time: time = self.cleaned_data["start"]
        start = datetime.combine(day, start_time, tzinfo=local_zone()).astimezone(ZoneInfo("UTC"))
        return start, start + (meeting.end - meeting.start)


class StaffCancelForm(forms.Form):
    cancelled_by = forms.ChoiceField(
        choices=Meeting.CancelledBy.choices,
        widget=forms.RadioSelect,
        label="Who cancelled?",
        error_messages={"required": "Choose who cancelled the meeting"},
    )
    reason = forms.CharField(
        max_length=2000,
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Enter the reason for cancelling"},
    )


class SlotSearchForm(forms.Form):
    duration = forms.TypedChoiceField(
        choices=[(120, "2 hours"), (180, "3 hours"), (240, "4 hours")],
        coerce=int,
        initial=180,
        required=False,
        label="How long",
    )
    mode = forms.ChoiceField(
        choices=[("", "As the family prefers"), ("in_person", "In person"), ("online", "Online")],
        required=False,
        label="Meeting type",
    )
    allow_late = forms.BooleanField(required=False, label="Include times after the mediation due date")

    def duration_delta(self) -> timedelta:
        return timedelta(minutes=self.cleaned_data.get("duration") or 180)


class CalendarConnectForm(forms.Form):
    server_url = forms.URLField(
        label="Calendar server address",
        max_length=500,
        assume_scheme="https",
        help_text="For example https://caldav.fastmail.com/ or your Nextcloud address",
        error_messages={"required": "Enter your calendar server's address", "invalid": "Enter a web address"},
    )
    username = forms.CharField(label="Username", max_length=200, error_messages={"required": "Enter your username"})
    app_password = forms.CharField(
        label="App password",
        max_length=500,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Make an app password in your calendar's settings; we store it encrypted and never show it",
        error_messages={"required": "Enter an app password"},
    )
    calendar_name = forms.CharField(
        label="Calendar name (optional)",
        max_length=200,
        required=False,
        help_text="Needed only when the server has more than one calendar",
    )


class MoveForm(forms.Form):
    """Move the case on by hand: only the moves its state and facts allow (booking.states)."""

    to = forms.ChoiceField(
        label="Move the case to", widget=forms.RadioSelect, error_messages={"required": "Choose what the case becomes"}
    )
    reason = forms.CharField(
        max_length=500, required=False, label="Why (optional)", widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, targets: list[tuple[str, str]], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_move_%s")  # the cancel form on the same page has a reason too
        super().__init__(*args, **kwargs)
        self.fields["to"].choices = targets
        self.fields["to"].error_messages["invalid_choice"] = "Choose one of the moves listed"


class ShortNoticeForm(forms.Form):
    consent = forms.BooleanField(
        required=False, label="The family has agreed in writing to less than 5 working days’ notice"
    )


class PersonForm(forms.Form):
    """Someone joining the case (and its meeting, if one is booked: they are invited at once)."""

    role = forms.ChoiceField(
        label="Role", choices=[("", "Choose a role")], error_messages={"required": "Choose the person's role"}
    )
    name = forms.CharField(max_length=200, label="Full name", error_messages={"required": "Enter the person's name"})
    email = forms.EmailField(
        required=False, label="Email address (optional)",
        error_messages={"invalid": "Enter an email address in the correct format, like name@example.com"},
    )  # fmt: skip
    mobile = forms.CharField(max_length=30, required=False, label="Mobile number for texts (optional)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from booking.models import Participant

        kwargs.setdefault("auto_id", "id_person_%s")
        super().__init__(*args, **kwargs)
        roles = [(value, label) for value, label in Participant.Role.choices if value != Participant.Role.MEDIATOR]
        self.fields["role"].choices = [("", "Choose a role"), *roles]
