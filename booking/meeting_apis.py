"""API for mediator matching and assignment, offers and the family's pick, and meetings."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import meetings, offers, selectors, services
from booking.models import Meeting, Offer
from core.clock import local_today
from core.errors import ApplicationError, ConflictError
from core.fields import IdField, StrictBooleanField, UkDateTimeField
from core.openapi import errors
from core.security import AddressRateThrottle
from scheduling.matching import match_reasons, mediator_matches
from scheduling.models import Mediator, Room


def _iso(moment: Any) -> str:
    return moment.astimezone(ZoneInfo(settings.DISPLAY_TIME_ZONE)).isoformat()


class MatchFilter(serializers.Serializer):
    continuity = StrictBooleanField(required=False, default=False)

    def to_internal_value(self, data: Any) -> Any:
        data = dict(data.items()) if hasattr(data, "items") else data
        if "continuity" in data:
            data["continuity"] = {"true": True, "false": False}.get(str(data["continuity"]).lower(), data["continuity"])
        return super().to_internal_value(data)


class MediatorMatchListApi(APIView):
    """Every mediator of the case's provider: the eligible ranked first, each excluded one with the rule."""

    @extend_schema(parameters=[MatchFilter], responses={200: dict, **errors(400, 401, 404)})
    def get(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get(user=request.user, case_id=case_id)
        params = MatchFilter(data=request.query_params)
        params.is_valid(raise_exception=True)
        now = timezone.now()
        rows = mediator_matches(case=case, now=now, today=local_today(now), **params.validated_data)
        return Response(
            {
                "case": case.pk,
                "matches": [
                    {
                        "mediator": {"id": m.mediator.pk, "name": m.mediator.name},
                        "eligible": m.eligible,
                        "rank": index if m.eligible else None,
                        "earliest_slot": _iso(m.earliest.start) if m.earliest else None,
                        "recent_assignments": m.recent_assignments,
                        "continuity": m.continuity,
                        "excluded_by": m.excluded_by,
                        "reasons": match_reasons(m),
                    }
                    for index, m in enumerate(rows, start=1)
                ],
            }
        )


class AssignInput(serializers.Serializer):
    mediator = IdField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class CaseAssignMediatorApi(APIView):
    @extend_schema(request=AssignInput, responses={200: dict, **errors(400, 401, 403, 404, 409)})
    def post(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get(user=request.user, case_id=case_id)
        services.case_assert_editable(user=request.user, case=case)
        data = AssignInput(data=request.data)
        data.is_valid(raise_exception=True)
        now = timezone.now()
        matches = {m.mediator.pk: m for m in mediator_matches(case=case, now=now, today=local_today(now))}
        match = matches.get(data.validated_data["mediator"])
        if match is None:
            raise ApplicationError("Choose a mediator of this case's provider.", {"fields": {"mediator": ["Unknown."]}})
        if not match.eligible:
            raise ConflictError("This mediator cannot take this case.", {"excluded_by": match.excluded_by})
        services.case_assign_mediator(
            case=case, mediator=match.mediator, actor=request.user, reason=data.validated_data.get("reason", "")
        )
        return Response({"case": case.pk, "mediator": match.mediator.pk})


class SlotChoiceInput(serializers.Serializer):
    start = UkDateTimeField()
    end = UkDateTimeField()
    mediator = IdField()
    room = IdField(required=False, allow_null=True)
    mode = serializers.ChoiceField(choices=["online", "in_person"])

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["The end must be after the start."]})
        return attrs


class OfferInput(serializers.Serializer):
    slots = SlotChoiceInput(many=True, required=False, max_length=6)
    count = serializers.IntegerField(required=False, default=3, min_value=1, max_value=6)
    expires_in_working_days = serializers.IntegerField(required=False, min_value=1, max_value=10)
    allow_late = StrictBooleanField(
        required=False, default=False, help_text="The best times may fall after the mediation due date"
    )


def offer_as_dict(offer: Offer, *, token: str | None = None, public: bool = False) -> dict[str, Any]:
    held = {s.pk for s in offers.open_options(offer)} if offer.status == Offer.Status.OPEN else set()
    body: dict[str, Any] = {
        "status": offer.status,
        "expires_at": _iso(offer.expires_at),
        "options": [
            {
                "slot": s.pk,
                "rank": s.rank,
                "start": _iso(s.start),
                "end": _iso(s.end),
                "mode": s.mode,
                "venue": {"name": s.room.venue.name, "address": s.room.venue.address, "features": s.room.venue.features}
                if s.room
                else None,
                "still_available": s.pk in held,
            }
            for s in offer.slots.select_related("room__venue")
        ],
    }
    if not public:
        body.update({"id": offer.pk, "case": offer.case_id})
    if token:
        body["token"] = token
        body["booking_url"] = f"{settings.SITE_URL}/book/{token}/"
    return body


class CaseOfferCreateApi(APIView):
    @extend_schema(request=OfferInput, responses={201: dict, **errors(400, 401, 403, 404, 409)})
    def post(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get(user=request.user, case_id=case_id)
        services.case_assert_editable(user=request.user, case=case)
        data = OfferInput(data=request.data)
        data.is_valid(raise_exception=True)
        choices = [
            offers.SlotChoice(c["start"], c["end"], c["mediator"], c.get("room"), c["mode"])
            for c in data.validated_data.get("slots", [])
        ]
        offer, token = offers.offer_create(
            case=case,
            actor=request.user,
            now=timezone.now(),
            choices=choices or None,
            count=data.validated_data["count"],
            expiry_working_days=data.validated_data.get("expires_in_working_days"),
            allow_late=data.validated_data["allow_late"],
        )
        return Response(offer_as_dict(offer, token=token), status=status.HTTP_201_CREATED)


class FamilyThrottle(AddressRateThrottle):  # counted per client address, as the sign-in throttle (IPv6 by /64)
    scope = "family"
    rate = "60/min"


def _offer_or_404(token: str) -> Offer:
    offer = offers.offer_from_token(token)
    if offer is None:
        raise Http404
    return offer


class OfferDetailApi(APIView):
    """The family's view of an offer, by its link. No account needed; nothing about the case is shown."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [FamilyThrottle]

    @extend_schema(responses={200: dict, **errors(404, 409, 410, 429)}, auth=[])
    def get(self, request: Request, token: str) -> Response:
        """An open offer's times; once chosen, the meeting booked by it; expired (410) or replaced (409), what to do
        next, and nothing else."""
        offer = _offer_or_404(token)
        if offer.status == Offer.Status.ACCEPTED:
            booked = (
                Meeting.objects.select_related("room__venue")
                .filter(offer_slot__offer=offer)
                .order_by("-created_at")
                .first()
            )
            return Response(
                {"status": offer.status, "meeting": meeting_as_dict(booked, public=True) if booked else None}
            )
        offers.offer_assert_open(offer=offer, now=timezone.now())
        return Response(offer_as_dict(offer, public=True))


class AcceptInput(serializers.Serializer):
    slot = IdField()


class OfferAcceptApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [FamilyThrottle]

    @extend_schema(request=AcceptInput, responses={200: dict, **errors(400, 404, 409, 410, 429)}, auth=[])
    def post(self, request: Request, token: str) -> Response:
        offer = _offer_or_404(token)
        data = AcceptInput(data=request.data)
        data.is_valid(raise_exception=True)
        meeting = offers.offer_accept(offer=offer, slot_id=data.validated_data["slot"], now=timezone.now())
        return Response(meeting_as_dict(meeting, public=True))


def meeting_as_dict(meeting: Meeting, *, public: bool = False) -> dict[str, Any]:
    room = meeting.room
    body = {
        "start": _iso(meeting.start),
        "end": _iso(meeting.end),
        "mode": meeting.mode,
        "status": meeting.status,
        "venue": {"name": room.venue.name, "address": room.venue.address, "features": room.venue.features}
        if room
        else None,
    }
    if not public:
        body.update(
            {
                "id": meeting.pk,
                "case": meeting.case_id,
                "uid": meeting.uid,
                "sequence": meeting.sequence,
                "mediator": meeting.mediator_id,
                "room": meeting.room_id,
                "late": meeting.late,
                "notice_given_on": meeting.notice_given_on.isoformat(),
                "cancelled_by": meeting.cancelled_by,
                "cancel_reason": meeting.cancel_reason,
            }
        )
    return body


class MeetingInput(SlotChoiceInput):
    """A meeting booked directly: the same fields as an offered slot."""


def _mediator_and_room(case: Any, mediator_id: int | None, room_id: int | None) -> tuple[Any, Any]:
    mediator = None
    if mediator_id:
        try:
            mediator = Mediator.objects.get(pk=mediator_id, provider_id=case.provider_id)
        except Mediator.DoesNotExist:
            raise ApplicationError(
                "Invalid mediator.", {"fields": {"mediator": ["Not a mediator of this provider."]}}
            ) from None
    room = None
    if room_id:
        owners = [case.provider_id, case.local_authority_id]
        room = (
            Room.objects.select_related("venue")
            .filter(pk=room_id, venue__owner_id__in=owners, venue__active=True)
            .first()
        )
        if room is None:
            raise ApplicationError("Invalid room.", {"fields": {"room": ["Not a room this case can use."]}})
    return mediator, room


class CaseMeetingCreateApi(APIView):
    """Book a meeting directly (a coordinator who has agreed the time with everyone)."""

    @extend_schema(request=MeetingInput, responses={201: dict, **errors(400, 401, 403, 404, 409)})
    def post(self, request: Request, case_id: int) -> Response:
        # The booking reads the case again under its lock, with what it needs.
        case = selectors.case_get(user=request.user, case_id=case_id, related=False)
        services.case_assert_editable(user=request.user, case=case)
        data = MeetingInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        mediator, room = _mediator_and_room(case, v["mediator"], v.get("room"))
        meeting = meetings.meeting_book(
            case=case,
            actor=request.user,
            start=v["start"],
            end=v["end"],
            mediator=mediator,
            room=room,
            mode=v["mode"],
            now=timezone.now(),
        )
        return Response(meeting_as_dict(meeting), status=status.HTTP_201_CREATED)


def _meeting_get(request: Request, meeting_id: int) -> Meeting:
    meeting = Meeting.objects.select_related("case", "room__venue").filter(pk=meeting_id).first()
    if meeting is None:
        raise Http404
    selectors.case_get(user=request.user, case_id=meeting.case_id)
    return meeting


class RescheduleInput(serializers.Serializer):
    """What changes; the rest stays as it is. A new start without an end keeps the meeting's length."""

    start = UkDateTimeField(required=False)
    end = UkDateTimeField(required=False)
    room = IdField(required=False, allow_null=True)
    mode = serializers.ChoiceField(choices=["online", "in_person"], required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "start" in attrs and "end" in attrs and attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["The end must be after the start."]})
        return attrs


class MeetingDetailApi(APIView):
    @extend_schema(responses={200: dict, **errors(401, 404)})
    def get(self, request: Request, meeting_id: int) -> Response:
        return Response(meeting_as_dict(_meeting_get(request, meeting_id)))

    @extend_schema(request=RescheduleInput, responses={200: dict, **errors(400, 401, 403, 404, 409)})
    def patch(self, request: Request, meeting_id: int) -> Response:
        meeting = _meeting_get(request, meeting_id)
        services.case_assert_editable(user=request.user, case=meeting.case)
        data = RescheduleInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        start = v.get("start", meeting.start)
        end = v.get("end", start + (meeting.end - meeting.start) if "start" in v else meeting.end)
        if end <= start:
            raise ApplicationError(
                "The meeting details are not valid.", {"fields": {"end": ["The end must be after the start."]}}
            )
        mode = v.get("mode", meeting.mode)
        room_id = v["room"] if "room" in v else (meeting.room_id if mode == "in_person" else None)
        _, room = _mediator_and_room(meeting.case, None, room_id)
        meeting = meetings.meeting_reschedule(
            meeting=meeting,
            actor=request.user,
            start=start,
            end=end,
            room=room,
            mode=mode,
            now=timezone.now(),
        )
        return Response(meeting_as_dict(meeting))


class CancelInput(serializers.Serializer):
    cancelled_by = serializers.ChoiceField(choices=Meeting.CancelledBy.choices)
    reason = serializers.CharField(max_length=2000)


class MeetingCancelApi(APIView):
    @extend_schema(request=CancelInput, responses={200: dict, **errors(400, 401, 403, 404, 409)})
    def post(self, request: Request, meeting_id: int) -> Response:
        meeting = _meeting_get(request, meeting_id)
        services.case_assert_editable(user=request.user, case=meeting.case)
        data = CancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        meeting = meetings.meeting_cancel(
            meeting=meeting, actor=request.user, now=timezone.now(), **data.validated_data
        )
        return Response(meeting_as_dict(meeting))
