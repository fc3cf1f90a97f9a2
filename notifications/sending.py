"""Sending one outbox row, safely more than once: claim, re-check, render, send, record.

A row is claimed with a conditional UPDATE (pending → sending, with a lease), so two workers handed the same row
send it once. Right before sending, the row is checked again against the meeting or offer it speaks of: a
cancelled or moved meeting gets no stale reminder or invitation.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import F
from django.utils import timezone

from notifications.models import Message, SmsNumber
from notifications.transports.base import TransportError

logger = logging.getLogger(__name__)


def lease() -> timedelta:
    """How long a worker may hold a row; after that the row is handed out again (a worker died)."""
    return timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS)


MEETING_KINDS = (Message.Kind.INVITATION, Message.Kind.UPDATE, Message.Kind.REMINDER)


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with full jitter: about 30 s, 1 min, 2 min … capped at 1 hour."""
    ceiling = min(3600.0, 30.0 * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))  # noqa: S311 - jitter, not security


def message_claim(message_id: int, *, now: datetime) -> bool:
    return bool(
        Message.objects.filter(pk=message_id, status=Message.Status.PENDING, due_at__lte=now).update(
            status=Message.Status.SENDING, lease_until=now + lease(), attempts=F("attempts") + 1
        )
    )


FINISHED = (Message.Status.SENT, Message.Status.FAILED, Message.Status.CANCELLED, Message.Status.SUPPRESSED)


def _set(message: Message, **fields: Any) -> None:
    """Save the fields given. A row that is finished with forgets the family's link it carried (an offer's or a
    feedback request's): only the tokens' hashes are kept, so a copy of the database holds no link that works."""
    if fields.get("status") in FINISHED and "link" in (message.context or {}):
        fields["context"] = {k: v for k, v in message.context.items() if k != "link"}
    for name, value in fields.items():
        setattr(message, name, value)
    message.save(update_fields=[*fields, "updated_at"])


def no_longer_applies(message: Message, *, now: datetime) -> str | None:
    """Why this message must not go out any more, or None."""
    meeting, offer = message.meeting, message.offer
    if meeting is not None and message.kind in MEETING_KINDS:
        if meeting.status != "confirmed":
            return "the meeting is no longer confirmed"
        if message.sequence is not None and message.sequence != meeting.sequence:
            return "the meeting has changed since"
        if message.kind == Message.Kind.REMINDER and meeting.start <= now:
            return "the meeting has started"
        if message.attendee is not None and not message.attendee.active:
            return "the attendee was removed"
    if offer is not None and message.kind in (Message.Kind.OFFER, Message.Kind.OFFER_EXPIRING):
        if offer.status != "open" or offer.expires_at <= now:
            return "the offer is closed"
    return None


def _sms_blocked(message: Message, now: datetime) -> str | None:
    number = SmsNumber.objects.filter(number=message.to).first()
    if number and number.opted_out:
        return "opted_out"
    if number and number.invalid:
        return "invalid"
    return None


def _email_fallback(message: Message, now: datetime) -> None:
    from notifications.services import message_queue

    p = message.participant
    if p is None or not p.email:
        return
    message_queue(
        dedupe_key=f"{message.dedupe_key}:email-fallback",
        kind=message.kind,
        channel="email",
        to=p.email,
        recipient_name=message.recipient_name,
        organisation_id=message.organisation_id,
        case_id=message.case_id,
        meeting_id=message.meeting_id,
        offer_id=message.offer_id,
        participant=p,
        attendee_id=message.attendee_id,
        sequence=message.sequence,
        calendar_method="REQUEST" if message.kind in ("invitation", "update") else "",
        context=message.context,
        due_at=now,
    )


def message_send(message_id: int, *, now: datetime | None = None) -> str:
    """Send one due row. Returns what happened: skipped, cancelled, suppressed, deferred, sent, retry or failed."""
    from notifications import render
    from notifications.transports import email as email_transport
    from notifications.transports import sms as sms_transport

    now = now or timezone.now()
    if not message_claim(message_id, now=now):
        return "skipped"
    message = Message.objects.select_related("meeting", "offer", "attendee", "participant").get(pk=message_id)
    why = no_longer_applies(message, now=now)
    if why:
        _set(message, status=Message.Status.CANCELLED, last_error=why, lease_until=None)
        return "cancelled"
    if message.channel == Message.Channel.SMS:
        blocked = _sms_blocked(message, now)
        if blocked:
            _email_fallback(message, now)
            _set(message, status=Message.Status.SUPPRESSED, last_error=f"number {blocked}", lease_until=None)
            return "suppressed"
        later = _quiet_hours(now)
        if later is not None:
            _set(message, status=Message.Status.PENDING, due_at=later, lease_until=None, attempts=message.attempts - 1)
            return "deferred"
        wait = _rate_limiter().acquire(sms_transport.sms_sender())
        if wait > 0:
            _set(
                message,
                status=Message.Status.PENDING,
                due_at=now + timedelta(seconds=wait),
                lease_until=None,
                attempts=message.attempts - 1,
            )
            return "deferred"
    try:
        if message.channel == Message.Channel.EMAIL:
            parts = render.email_parts(message, now=now)
        else:
            body = render.sms_body(message)
    except DatabaseError:
        raise  # the database, not the row: the lease runs out and the row is sent again
    except Exception as exc:  # a row that cannot be written fails alone: the rest of the outbox goes on
        logger.exception("message %s could not be rendered", message.pk)
        return _failed(message, TransportError(f"could not be written: {type(exc).__name__}", permanent=True), now)
    try:
        if message.channel == Message.Channel.EMAIL:
            result = email_transport.send_email(to=message.to, **parts)
        else:
            callback = f"{settings.SITE_URL}/webhooks/twilio/status/?m={message.callback_token}"
            result = sms_transport.send_sms(to=message.to, body=body, status_callback=callback)
    except TransportError as exc:
        return _failed(message, exc, now)
    _set(
        message,
        status=Message.Status.SENT,
        provider_id=result.provider_id,
        sent_at=now,
        lease_until=None,
        last_error="",
    )
    return "sent"


def _failed(message: Message, exc: TransportError, now: datetime) -> str:
    from notifications.services import coordinator_alert

    if exc.permanent and exc.code == "21610":
        SmsNumber.objects.update_or_create(number=message.to, defaults={"opted_out": True})
        _email_fallback(message, now)
        _set(message, status=Message.Status.SUPPRESSED, last_error=exc.message, lease_until=None)
        return "suppressed"
    if exc.permanent and exc.code in ("21211", "21614"):
        SmsNumber.objects.update_or_create(number=message.to, defaults={"invalid": True})
    if not exc.permanent and message.attempts < message.max_attempts:
        _set(
            message,
            status=Message.Status.PENDING,
            due_at=now + backoff(message.attempts),
            last_error=exc.message,
            lease_until=None,
        )
        return "retry"
    _set(message, status=Message.Status.FAILED, last_error=exc.message, lease_until=None)
    if message.case is not None and message.kind != Message.Kind.COORDINATOR_ALERT:
        coordinator_alert(
            message.case,
            problem=f"A {message.get_kind_display().lower()} by "
            f"{message.get_channel_display()} could not be delivered ({exc.message[:120]}).",
            key=f"failed:{message.pk}",
            now=now,
        )
    return "failed"


_limiter: Any = None


def _rate_limiter() -> Any:
    global _limiter
    from notifications.transports.sms import RateLimiter

    if _limiter is None:
        _limiter = RateLimiter(settings.SMS_RATE_PER_SECOND, redis_url=settings.CELERY_BROKER_URL or None)
    return _limiter


def _quiet_hours(now: datetime) -> datetime | None:
    """When an SMS may go if it is now quiet hours (setting SMS_QUIET_HOURS, e.g. "20:00-08:00"; empty: none)."""
    from datetime import time as clock

    from notifications.sms_text import quiet_hours_deferral

    window = settings.SMS_QUIET_HOURS.strip()
    if not window:
        return None
    start, end = (clock.fromisoformat(part.strip()) for part in window.split("-"))
    return quiet_hours_deferral(now, tz=settings.DISPLAY_TIME_ZONE, start=start, end=end)
