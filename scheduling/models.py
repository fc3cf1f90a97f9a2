"""Mediators, venues and rooms: the resources a mediation meeting needs."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.db import DEFAULT_DB_ALIAS, connections, models

from core.models import Organisation, validate_timezone


class Mediator(models.Model):
    class Register(models.TextChoices):
        CMC_COM = "cmc_com", "Joint SEND register (Civil Mediation Council / College of Mediators)"
        OTHER = "other", "Other"

    class Specialism(models.TextChoices):
        HEALTH = "health", "Health"
        SOCIAL_CARE = "social_care", "Social care"
        POST_16 = "post_16", "Post-16"
        EARLY_YEARS = "early_years", "Early years"
        DISAGREEMENT_RESOLUTION = "disagreement_resolution", "Disagreement resolution"

    provider = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="mediators",
        limit_choices_to={"kind": "provider"},
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mediator_profile",
    )
    name = models.CharField(max_length=200)
    email = models.EmailField()
    mobile = models.CharField(max_length=20, blank=True, help_text="E.164, for example +447911123456")
    active = models.BooleanField(default=True)
    register = models.CharField(max_length=20, choices=Register.choices, default=Register.CMC_COM)
    register_id = models.CharField(max_length=60, blank=True)
    accreditation_expires = models.DateField()
    specialisms = models.JSONField(default=list, blank=True)
    languages = models.JSONField(default=list, blank=True, help_text='Languages spoken, e.g. ["en", "cy", "bsl"]')
    areas = models.ManyToManyField(
        Organisation,
        blank=True,
        related_name="covering_mediators",
        limit_choices_to={"kind": "local_authority"},
    )
    online = models.BooleanField(default=True)
    in_person = models.BooleanField(default=True)
    max_active_cases = models.PositiveSmallIntegerField(default=8)
    independence_declared_on = models.DateField(null=True, blank=True)
    # Organisations that employ the mediator: a mediator employed by a case's LA or ICB is not independent (s.56 CFA).
    employers = models.ManyToManyField(Organisation, blank=True, related_name="employed_mediators")
    timezone = models.CharField(max_length=64, default="Europe/London", validators=[validate_timezone])
    buffer_before_minutes = models.PositiveSmallIntegerField(default=15)
    buffer_after_minutes = models.PositiveSmallIntegerField(default=15)
    max_meetings_per_day = models.PositiveSmallIntegerField(default=2)
    max_meetings_per_week = models.PositiveSmallIntegerField(default=6)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(online=True) | models.Q(in_person=True), name="mediator_meets_somehow"
            ),
            models.CheckConstraint(condition=models.Q(max_meetings_per_day__gte=1), name="mediator_day_cap_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    def accredited_on(self, day: date) -> bool:
        return self.accreditation_expires >= day


class MediatorConflict(models.Model):
    """A declared conflict of interest: the mediator cannot take a case involving this family, school or LA team."""

    class Kind(models.TextChoices):
        FAMILY = "family", "Family"
        SCHOOL = "school", "School or college"
        LA_TEAM = "la_team", "Local authority team"
        ORGANISATION = "organisation", "Organisation"

    mediator = models.ForeignKey(Mediator, on_delete=models.CASCADE, related_name="conflicts")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.CharField(max_length=200, help_text="Surname, school or team name, as declared")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, null=True, blank=True)
    declared_on = models.DateField()

    def __str__(self) -> str:
        return f"{self.mediator}: {self.get_kind_display()} {self.description}"


ACCESS_FEATURES = [
    "step_free",
    "hearing_loop",
    "accessible_toilet",
    "quiet_room",
    "parking",
    "breakout_rooms",
]


class Venue(models.Model):
    owner = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="venues")
    name = models.CharField(max_length=200)
    online_only = models.BooleanField(default=False)
    address = models.TextField(blank=True)
    town = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=10, blank=True)
    features = models.JSONField(default=list, blank=True, help_text=f"Access features: {', '.join(ACCESS_FEATURES)}")
    access_notes = models.TextField(blank=True)
    timezone = models.CharField(max_length=64, default="Europe/London", validators=[validate_timezone])
    opens_at = models.TimeField(null=True, blank=True)
    closes_at = models.TimeField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(opens_at__isnull=True)
                | models.Q(closes_at__isnull=True)
                | models.Q(closes_at__gt=models.F("opens_at")),
                name="venue_closes_after_opening",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Room(models.Model):
    venue = models.ForeignKey(Venue, on_delete=models.CASCADE, related_name="rooms")
    name = models.CharField(max_length=100)
    capacity = models.PositiveSmallIntegerField(default=8)
    features = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["venue", "name"]
        constraints = [models.UniqueConstraint(fields=["venue", "name"], name="room_unique_name_per_venue")]

    def __str__(self) -> str:
        return f"{self.venue} – {self.name}"


class Resource(models.Model):
    """Anything whose time a meeting uses: a mediator, a staff member (LA officer, health representative), a room.

    Every use of a resource's time is an Occupancy row, so one constraint keeps each resource in one place at once.
    """

    class Kind(models.TextChoices):
        MEDIATOR = "mediator", "Mediator"
        STAFF = "staff", "Staff member"
        ROOM = "room", "Room"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="resources")
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="Europe/London", validators=[validate_timezone])
    mediator = models.OneToOneField(Mediator, on_delete=models.CASCADE, null=True, blank=True, related_name="resource")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="resource"
    )
    room = models.OneToOneField(Room, on_delete=models.CASCADE, null=True, blank=True, related_name="resource")

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="mediator", mediator__isnull=False, user__isnull=True, room__isnull=True)
                    | models.Q(kind="staff", mediator__isnull=True, user__isnull=False, room__isnull=True)
                    | models.Q(kind="room", mediator__isnull=True, user__isnull=True, room__isnull=False)
                ),
                name="resource_one_owner_matching_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class AvailabilityRule(models.Model):
    """A weekly window in local time, e.g. Mondays 09:30–16:30 Europe/London."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="rules")
    weekday = models.PositiveSmallIntegerField(help_text="0 = Monday … 6 = Sunday")
    start_time = models.TimeField()
    end_time = models.TimeField()
    timezone = models.CharField(max_length=64, default="Europe/London", validators=[validate_timezone])
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True, help_text="Inclusive")

    class Meta:
        ordering = ["resource", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="rule_weekday_0_6"),
            models.CheckConstraint(
                condition=models.Q(end_time__gt=models.F("start_time")), name="rule_end_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_from__isnull=True)
                | models.Q(valid_until__isnull=True)
                | models.Q(valid_until__gte=models.F("valid_from")),
                name="rule_valid_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource}: weekday {self.weekday} {self.start_time}-{self.end_time}"


class AvailabilityException(models.Model):
    """Days or ranges off (whole days, or a window each day), or extra windows."""

    class Kind(models.TextChoices):
        OFF = "off", "Not available"
        EXTRA = "extra", "Extra availability"

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="exceptions")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    first_day = models.DateField()
    last_day = models.DateField()
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="Europe/London", validators=[validate_timezone])
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["resource", "first_day"]
        constraints = [
            models.CheckConstraint(condition=models.Q(last_day__gte=models.F("first_day")), name="exception_day_range"),
            models.CheckConstraint(
                condition=models.Q(start_time__isnull=True, end_time__isnull=True)
                | models.Q(start_time__isnull=False, end_time__isnull=False, end_time__gt=models.F("start_time")),
                name="exception_times_pair",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="extra") | models.Q(start_time__isnull=False), name="exception_extra_has_times"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource}: {self.kind} {self.first_day}-{self.last_day}"


class BusyBlock(models.Model):
    """Busy time imported from a resource's own calendar (CalDAV). Read by the slot engine; never written by it."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="busy_blocks")
    start = models.DateTimeField()
    end = models.DateTimeField()
    source = models.CharField(max_length=20, default="caldav")
    external_uid = models.CharField(max_length=255, blank=True)
    href = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["resource", "start"], name="busyblock_resource_start")]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="busy_end_after_start")
        ]

    def __str__(self) -> str:
        return f"{self.resource} busy {self.start:%Y-%m-%d %H:%M}"


class TsTzRange(models.Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class PostgresOnlyExclusionConstraint(ExclusionConstraint):
    """An exclusion constraint on PostgreSQL; elsewhere the schema editor skips it and the write path checks instead
    (inside a transaction that serialises writers: see scheduling.occupancy)."""

    def _on_postgres(self, schema_editor: Any) -> bool:
        return schema_editor.connection.vendor == "postgresql"

    def constraint_sql(self, model: Any, schema_editor: Any) -> Any:
        return super().constraint_sql(model, schema_editor) if self._on_postgres(schema_editor) else None

    def create_sql(self, model: Any, schema_editor: Any) -> Any:
        return super().create_sql(model, schema_editor) if self._on_postgres(schema_editor) else None

    def remove_sql(self, model: Any, schema_editor: Any) -> Any:
        return super().remove_sql(model, schema_editor) if self._on_postgres(schema_editor) else None

    def validate(self, model: Any, instance: Any, exclude: Any = None, using: str = DEFAULT_DB_ALIAS) -> None:
        if connections[using].vendor == "postgresql":
            super().validate(model, instance, exclude=exclude, using=using)


class Occupancy(models.Model):
    """One use of a resource's time: a hold for an offered slot, or a confirmed meeting (buffers included)."""

    class Kind(models.TextChoices):
        HOLD = "hold", "Hold"
        MEETING = "meeting", "Meeting"

    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="occupancies")
    start = models.DateTimeField()
    end = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    active = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Holds only: released after this")
    meeting = models.ForeignKey(
        "booking.Meeting", on_delete=models.CASCADE, null=True, blank=True, related_name="occupancies"
    )
    offer_slot = models.ForeignKey(
        "booking.OfferSlot", on_delete=models.CASCADE, null=True, blank=True, related_name="occupancies"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The slot engine's busy read and the overlap check: active rows of some resources in a window.
            models.Index(fields=["resource", "start"], condition=models.Q(active=True), name="occupancy_active_start"),
            # The hold sweeper: active holds by expiry.
            models.Index(
                fields=["expires_at"], condition=models.Q(active=True, kind="hold"), name="occupancy_hold_expiry"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="occupancy_end_after_start"),
            models.CheckConstraint(
                condition=models.Q(kind="meeting", meeting__isnull=False)
                | models.Q(kind="hold", offer_slot__isnull=False, expires_at__isnull=False),
                name="occupancy_kind_has_owner",
            ),
            PostgresOnlyExclusionConstraint(
                name="occupancy_no_overlap_per_resource",
                expressions=[
                    (TsTzRange("start", "end", RangeBoundary()), RangeOperators.OVERLAPS),
                    ("resource", RangeOperators.EQUAL),
                ],
                condition=models.Q(active=True),
                violation_error_code="overlap",
                violation_error_message="This resource is already taken at that time.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.kind} {self.start:%Y-%m-%d %H:%M}–{self.end:%H:%M}"


class CalendarConnection(models.Model):
    """A resource's own CalDAV calendar: busy time is synced from it, and our meetings are written into it.

    The app password is stored encrypted (scheduling.caldav.crypto) and never leaves the service: not in the API,
    not in the admin. Sync state: an RFC 6578 sync token when the server has sync-collection, otherwise the ETags of
    every resource for comparison; a circuit breaker stops calls to a failing server for a cool-down.
    """

    resource = models.OneToOneField(Resource, on_delete=models.CASCADE, related_name="calendar_connection")
    server_url = models.URLField(max_length=500)
    username = models.CharField(max_length=200)
    password_encrypted = models.TextField(editable=False)
    calendar_url = models.URLField(max_length=500)
    calendar_name = models.CharField(max_length=200, blank=True)
    push_enabled = models.BooleanField(default=True, help_text="Write this resource's meetings into the calendar")
    sync_token = models.TextField(blank=True)
    # "sync" (RFC 6578) or "etag" (the server refused sync-collection; compare ETags instead). Empty before the first.
    sync_mode = models.CharField(max_length=10, blank=True)
    etags = models.JSONField(default=dict, blank=True, help_text="href → ETag of every resource in the calendar")
    synced_until = models.DateTimeField(null=True, blank=True, help_text="End of the window busy time was read for")
    last_sync_at = models.DateTimeField(null=True, blank=True, help_text="Last attempt, good or not")
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    breaker_open_until = models.DateTimeField(null=True, blank=True)
    # A claim, so that the periodic sync and a "sync now" never run on one connection at once.
    sync_claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # calendars_sync_due: connections whose last attempt is older than the sync interval.
            models.Index(fields=["last_sync_at"], name="calendarconn_sync_due"),
        ]

    def __str__(self) -> str:
        return f"{self.resource} ↔ {self.calendar_name or self.calendar_url}"


class CalendarEvent(models.Model):
    """A meeting as written into one connected calendar: what was last written, so writes are conditional and
    happen once per change."""

    connection = models.ForeignKey(CalendarConnection, on_delete=models.CASCADE, related_name="events")
    meeting = models.ForeignKey("booking.Meeting", on_delete=models.CASCADE, related_name="calendar_events")
    etag = models.CharField(max_length=200, blank=True)
    sequence = models.IntegerField(default=-1, help_text="The meeting's SEQUENCE last written or deleted")
    deleted = models.BooleanField(default=False, help_text="Removed from the calendar (cancelled or uninvited)")
    pushed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "meeting"], name="calendarevent_once")]

    def __str__(self) -> str:
        return f"{self.meeting} in {self.connection}"
