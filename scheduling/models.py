"""Mediators, venues and rooms: the resources a mediation meeting needs."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models

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
