"""Family feedback after the meeting: a random link per family member, a score from 1 to 5 and a comment.

The link's token is stored only as its SHA-256, like an offer's. The email that carries it keeps the link only until
it is sent (notifications.sending), so a copy of the database holds no usable link once the outbox has done its work.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from booking.models import Case, FeedbackRequest, Meeting, Participant
from core.errors import ConflictError, GoneError

FEEDBACK_KIND = "feedback"
LINK_LIFETIME = timedelta(days=30)
ASKED_ROLES = (Participant.Role.PARENT, Participant.Role.YOUNG_PERSON, Participant.Role.ALTERNATIVE_PERSON)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feedback_url(token: str) -> str:
    return f"{settings.SITE_URL}/feedback/{token}/"


def outbox_can_send_feedback() -> bool:
    """The outbox learns the "feedback" kind (model choice and email templates) in the notifications app."""
    from notifications.models import Message
    from notifications.transports.email import KINDS

    return FEEDBACK_KIND in Message.Kind.values and FEEDBACK_KIND in KINDS


def feedback_request_create(*, case: Case, meeting: Meeting | None, now: datetime) -> list[tuple[FeedbackRequest, str]]:
    """One request per family member with an email address (not supporters), each queued in the outbox.
    Returns (request, token) pairs for the new requests; a second call for the same case creates none."""
    from notifications.services import message_queue

    created = []
    for participant in case.participants.filter(role__in=ASKED_ROLES).exclude(email=""):
        if FeedbackRequest.objects.filter(case=case, participant=participant).exists():
            continue
        token = secrets.token_urlsafe(24)
        request = FeedbackRequest.objects.create(
            case=case,
            meeting=meeting,
            participant=participant,
            token_hash=_hash(token),
            expires_at=now + LINK_LIFETIME,
            created_at=now,
        )
        if outbox_can_send_feedback():
            message_queue(
                dedupe_key=f"feedback:{request.pk}:email",
                kind=FEEDBACK_KIND,
                channel="email",
                to=participant.email,
                recipient_name=participant.name,
                organisation=case.provider,
                case=case,
                participant=participant,
                context={"link": feedback_url(token)},
                due_at=now,
            )
        created.append((request, token))
    return created


def feedback_from_token(token: str) -> FeedbackRequest | None:
    if not token or len(token) > 100:
        return None
    return FeedbackRequest.objects.filter(token_hash=_hash(token)).first()


@transaction.atomic
def feedback_answer(*, request: FeedbackRequest, score: Any, comment: str, now: datetime) -> FeedbackRequest:
    request = FeedbackRequest.objects.select_for_update().get(pk=request.pk)
    if request.expires_at <= now:
        raise GoneError("This feedback link has expired.")
    if request.answered_at is not None:
        raise ConflictError("Thank you: your feedback was already received.")
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise ValidationError({"score": ["Choose a score from 1 to 5."]})
    request.score, request.comment, request.answered_at = score, comment.strip()[:2000], now
    request.save(update_fields=["score", "comment", "answered_at"])
    return request
