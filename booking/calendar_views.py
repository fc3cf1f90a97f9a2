"""Calendars people download or subscribe to, and iTIP replies that arrive by email."""

from __future__ import annotations

import email
import email.policy
import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import ical
from booking.answers import replies_apply
from booking.meeting_apis import _meeting_get
from booking.models import CalendarFeed, Meeting
from core.openapi import errors
from notifications.render import invite_for
from scheduling.selectors import mediator_can_edit, mediator_get

FEED_KEEPS_CANCELLED = timedelta(days=30)


def _ics(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


class MeetingInviteIcsApi(APIView):
    """The meeting as an iCalendar file, for anyone allowed to see the meeting."""

    @extend_schema(responses={(200, "text/calendar"): OpenApiTypes.STR, **errors(401, 404)})
    def get(self, request: Request, meeting_id: int) -> HttpResponse:
        meeting = _meeting_get(request, meeting_id)
        # A download is published, not an invitation: calendars add it without treating it as a request to reply.
        body = ical.build_publish([invite_for(meeting)], dtstamp=timezone.now(), name="Mediation meeting")
        return _ics(body, "invite.ics")


def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A mediator's private feed: their meetings, with cancelled ones kept as STATUS:CANCELLED for 30 days."""
    feed = CalendarFeed.objects.select_related("mediator").filter(token=token, revoked_at__isnull=True).first()
    if feed is None or not secrets.compare_digest(feed.token, token):
        raise Http404
    now = timezone.now()
    meetings = (
        Meeting.objects.filter(mediator=feed.mediator, end__gte=now - timedelta(days=180))
        .exclude(status="cancelled", updated_at__lt=now - FEED_KEEPS_CANCELLED)
        .select_related("case__provider", "case__created_by", "room__venue")
    )
    invites = [invite_for(m) for m in meetings]
    return _ics(ical.build_publish(invites, dtstamp=now, name="Mediation meetings"), "mediation.ics")


class MediatorFeedApi(APIView):
    """Create (or replace) and revoke a mediator's private calendar feed URL."""

    def _mediator(self, request: Request, mediator_id: int) -> Any:
        mediator = mediator_get(user=request.user, mediator_id=mediator_id)
        if mediator.user_id != request.user.pk and not mediator_can_edit(user=request.user, mediator=mediator):
            raise PermissionDenied
        return mediator

    @extend_schema(request=None, responses={201: OpenApiTypes.OBJECT, **errors(401, 403, 404)})
    def post(self, request: Request, mediator_id: int) -> Response:
        mediator = self._mediator(request, mediator_id)
        with transaction.atomic():
            CalendarFeed.objects.filter(mediator=mediator, revoked_at__isnull=True).update(revoked_at=timezone.now())
            feed = CalendarFeed.objects.create(mediator=mediator, token=secrets.token_urlsafe(32))
        return Response({"url": f"{settings.SITE_URL}/calendar/{feed.token}.ics"}, status=201)

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def delete(self, request: Request, mediator_id: int) -> Response:
        mediator = self._mediator(request, mediator_id)
        CalendarFeed.objects.filter(mediator=mediator, revoked_at__isnull=True).update(revoked_at=timezone.now())
        return Response(status=204)


class RawMessageParser(BaseParser):
    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> bytes:
        return stream.read()


def inbound_secret_ok(header: str) -> bool:
    secret = settings.INBOUND_EMAIL_SECRET
    supplied = header.removeprefix("Bearer ").strip()
    return bool(secret) and hmac.compare_digest(supplied.encode(), secret.encode())


def apply_raw_message(raw: bytes) -> dict[str, int]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return replies_apply(ical.replies_from_message(message))


class InboundEmailApi(APIView):
    """A raw RFC 5322 message as inbound-mail services deliver it; any iTIP REPLY in it is applied."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    parser_classes = [RawMessageParser]

    @extend_schema(
        request={"message/rfc822": OpenApiTypes.BINARY},
        responses={200: OpenApiTypes.OBJECT, **errors(400, 403)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        if not inbound_secret_ok(request.headers.get("Authorization", "")):
            raise PermissionDenied
        raw = request.data if isinstance(request.data, bytes) else b""
        if not raw.strip():
            return Response({"message": "The body must be a raw email message.", "extra": {}}, status=400)
        try:
            counts = apply_raw_message(raw)
        except ValueError as exc:
            return Response({"message": f"No readable calendar reply: {exc}", "extra": {}}, status=400)
        return Response(counts)
