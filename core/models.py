"""Organisations and the roles staff hold in them.

Tenancy starts here: a staff user sees what belongs to the organisations they hold a role in.
"""

from __future__ import annotations

import re
from datetime import time
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

SENSITIVE_WORDS = re.compile(r"\b(SEND|EHCP|EHC|tribunal|special educational|disabilit\w*)\b", re.IGNORECASE)


def validate_neutral(value: str) -> None:
    """Words that tell whoever sees a message (on a lock screen, a shared inbox) what it is about."""
    found = SENSITIVE_WORDS.search(value)
    if found:
        raise ValidationError(f"Messages to families must not name what they are about: leave out {found[0]!r}.")


def validate_timezone(value: str) -> None:
    if value not in _ZONES:
        raise ValidationError(f"{value!r} is not a known IANA time zone (for example Europe/London).")


_ZONES = frozenset(available_timezones())


class Organisation(models.Model):
    class Kind(models.TextChoices):
        LOCAL_AUTHORITY = "local_authority", "Local authority"
        ICB = "icb", "Health commissioner (integrated care board)"
        PROVIDER = "provider", "Mediation provider"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="Europe/London", validators=[validate_timezone])
    # A provider serves several local authorities; an LA works with its ICBs.
    served_authorities = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="providers",
        limit_choices_to={"kind": Kind.LOCAL_AUTHORITY},
    )
    partner_icbs = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="partner_authorities",
        limit_choices_to={"kind": Kind.ICB},
    )
    scheduling_email = models.EmailField(
        blank=True,
        validators=[validate_neutral],
        help_text="The address invitations come from (providers): families see it, so no 'SEND' in it either.",
    )
    sender_name = models.CharField(
        max_length=100,
        blank=True,
        validators=[validate_neutral],
        help_text="How emails and invitations to families name the provider, with no 'SEND', 'EHCP' or 'tribunal' "
        "(default: Mediation service).",
    )
    contact_phone = models.CharField(max_length=30, blank=True)
    # Default working hours for staff who publish no availability.
    default_weekdays = models.CharField(max_length=20, default="0,1,2,3,4", help_text="0 = Monday … 6 = Sunday")
    default_day_start = models.TimeField(default=time(9, 30))
    default_day_end = models.TimeField(default=time(16, 30))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(default_day_end__gt=models.F("default_day_start")),
                name="organisation_day_end_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def sender(self) -> str:
        """The name families see in a sender, a footer or a calendar's organiser: neutral, never the legal name
        (which may say "SEND")."""
        return self.sender_name or DEFAULT_SENDER


DEFAULT_SENDER = "Mediation service"


class Membership(models.Model):
    class Role(models.TextChoices):
        COORDINATOR = "coordinator", "Coordinator"
        MEDIATOR = "mediator", "Mediator"
        HEALTH_REPRESENTATIVE = "health_representative", "Health representative"
        COMMISSIONER = "commissioner", "Commissioner (aggregates only)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=30, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation", "role"], name="membership_unique_role"),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} at {self.organisation}"


class SignInFailure(models.Model):
    """A password check that failed, or is still under way, counted by the sign-in throttle (core.security).

    Only keyed digests are stored, never what was typed (people do type their password into the username box). Rows
    older than the throttle's window are deleted (at most once a minute per process, by an attempt let through), so
    the table holds about the window.
    """

    account = models.CharField(max_length=64, help_text="Keyed digest of the case-folded username.")
    address = models.CharField(max_length=64, help_text="Keyed digest of the client address (IPv6: its /64).")
    at = models.DateTimeField()

    class Meta:
        indexes = [
            # The two counts made before every password check: per account and per client address in the window.
            models.Index(fields=["account", "at"], name="signin_failure_account_at"),
            models.Index(fields=["address", "at"], name="signin_failure_address_at"),
            # The pruning of rows that have left the window.
            models.Index(fields=["at"], name="signin_failure_at"),
        ]

    def __str__(self) -> str:
        return f"sign-in failure at {self.at:%Y-%m-%d %H:%M:%S}"
