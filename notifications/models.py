"""The outbox: every message to a person is a row first, written in the transaction of the change that causes it."""

from __future__ import annotations

import secrets

from django.db import models


def _callback_token() -> str:
    return secrets.token_urlsafe(18)


class Message(models.Model):
    class Kind(models.TextChoices):
        INVITATION = "invitation", "Invitation"
        UPDATE = "update", "Update"
        CANCELLATION = "cancellation", "Cancellation"
        OFFER = "offer", "Offer"
        OFFER_EXPIRING = "offer_expiring", "Offer expiring"
        REMINDER = "reminder", "Reminder"
        CERTIFICATE = "certificate", "Certificate"
        COORDINATOR_ALERT = "coordinator_alert", "Coordinator alert"
        FEEDBACK = "feedback", "Feedback request"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        SUPPRESSED = "suppressed", "Suppressed"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=5, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    to = models.CharField(max_length=254, help_text="An email address or an E.164 number")
    recipient_name = models.CharField(max_length=200, blank=True)
    organisation = models.ForeignKey("core.Organisation", on_delete=models.PROTECT, related_name="messages")
    case = models.ForeignKey("booking.Case", on_delete=models.CASCADE, null=True, blank=True, related_name="messages")
    meeting = models.ForeignKey(
        "booking.Meeting", on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    offer = models.ForeignKey("booking.Offer", on_delete=models.CASCADE, null=True, blank=True, related_name="messages")
    participant = models.ForeignKey("booking.Participant", on_delete=models.SET_NULL, null=True, blank=True)
    attendee = models.ForeignKey("booking.MeetingAttendee", on_delete=models.SET_NULL, null=True, blank=True)
    sequence = models.IntegerField(null=True, blank=True, help_text="The meeting SEQUENCE this message speaks of")
    calendar_method = models.CharField(max_length=10, blank=True)
    context = models.JSONField(default=dict, blank=True, help_text="Neutral values only: link, problem text")
    due_at = models.DateTimeField()
    dedupe_key = models.CharField(max_length=200, unique=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=6)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    callback_token = models.CharField(max_length=40, unique=True, default=_callback_token)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # The dispatcher: pending rows by due time.
            models.Index(fields=["due_at"], condition=models.Q(status="pending"), name="message_pending_due"),
            # Reclaiming rows whose worker died mid-send.
            models.Index(fields=["lease_until"], condition=models.Q(status="sending"), name="message_sending_lease"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.channel} to {self.to} ({self.status})"


class SmsNumber(models.Model):
    """What we know of a mobile number: opted out by STOP (or Twilio 21610), or invalid (21211)."""

    number = models.CharField(max_length=20, unique=True)
    opted_out = models.BooleanField(default=False)
    invalid = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.number} opted_out={self.opted_out} invalid={self.invalid}"


class ReminderSchedule(models.Model):
    """When reminders go out for an organisation's meetings: [{"channel": "email", "minutes_before": 10080}, ...]."""

    organisation = models.OneToOneField("core.Organisation", on_delete=models.CASCADE, related_name="reminders")
    offsets = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"Reminders for {self.organisation}"


class PeriodicRun(models.Model):
    """One row per periodic job per time slot: a second beat (started by mistake) cannot run a job twice."""

    job = models.CharField(max_length=60)
    slot = models.BigIntegerField()
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "slot"], name="periodic_run_once")]

    def __str__(self) -> str:
        return f"{self.job}@{self.slot}"
