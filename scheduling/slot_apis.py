"""API for availability (rules, exceptions), free/busy, and the slot search of a case."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking.selectors import case_get
from core.fields import IdField, StrictBooleanField, TimeZoneField, UkDateTimeField, WallClockTimeField
from core.openapi import errors
from core.pagination import PaginatedApi, paginate
from scheduling import availability
from scheduling import slots as engine
from scheduling.search import SlotQuery, case_slot_search, closed_days
from scheduling.selectors import mediator_can_edit, mediator_get

MAX_WINDOW = timedelta(days=183)


class ResourceRef(serializers.Serializer):
    mediator = IdField(required=False)
    staff_user = IdField(required=False)
    room = IdField(required=False)


class RuleInput(ResourceRef):
    weekday = serializers.IntegerField(min_value=0, max_value=6)
    start_time = WallClockTimeField()
    end_time = WallClockTimeField()
    timezone = TimeZoneField(required=False)
    valid_from = serializers.DateField(required=False, allow_null=True)
    valid_until = serializers.DateField(required=False, allow_null=True)


class RuleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    resource = serializers.IntegerField(source="resource_id")
    weekday = serializers.IntegerField()
    start_time = WallClockTimeField()
    end_time = WallClockTimeField()
    timezone = serializers.CharField()
    valid_from = serializers.DateField(allow_null=True)
    valid_until = serializers.DateField(allow_null=True)


class ExceptionInput(ResourceRef):
    kind = serializers.ChoiceField(choices=["off", "extra"])
    first_day = serializers.DateField()
    last_day = serializers.DateField()
    start_time = WallClockTimeField(required=False, allow_null=True)
    end_time = WallClockTimeField(required=False, allow_null=True)
    timezone = TimeZoneField(required=False)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ExceptionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    resource = serializers.IntegerField(source="resource_id")
    kind = serializers.CharField()
    first_day = serializers.DateField()
    last_day = serializers.DateField()
    start_time = WallClockTimeField(allow_null=True)
    end_time = WallClockTimeField(allow_null=True)
    timezone = serializers.CharField()
    note = serializers.CharField()


class ResourceFilter(serializers.Serializer):
    resource = IdField(required=False)


def _resource(request: Request, data: dict[str, Any]) -> Any:
    ref = {k: data.pop(k) for k in ("mediator", "staff_user", "room") if k in data}
    return availability.resource_resolve(user=request.user, **ref)


class RuleListApi(PaginatedApi, APIView):
    @extend_schema(parameters=[ResourceFilter], responses={200: RuleOutput(many=True), **errors(400, 401)})
    def get(self, request: Request) -> Response:
        filters = ResourceFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rules = availability.rule_list(user=request.user, resource_id=filters.validated_data.get("resource"))
        return paginate(request, self, rules, RuleOutput)

    @extend_schema(request=RuleInput, responses={201: RuleOutput, **errors(400, 401, 404)})
    def post(self, request: Request) -> Response:
        data = RuleInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        rule = availability.rule_create(resource=_resource(request, values), **values)
        return Response(RuleOutput(rule).data, status=status.HTTP_201_CREATED)


class RuleDetailApi(APIView):
    @extend_schema(responses={200: RuleOutput, **errors(401, 404)})
    def get(self, request: Request, rule_id: int) -> Response:
        return Response(RuleOutput(availability.rule_get(user=request.user, rule_id=rule_id)).data)

    @extend_schema(request=RuleInput(partial=True), responses={200: RuleOutput, **errors(400, 401, 404)})
    def patch(self, request: Request, rule_id: int) -> Response:
        rule = availability.rule_get(user=request.user, rule_id=rule_id)
        data = RuleInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = {k: v for k, v in data.validated_data.items() if k not in ("mediator", "staff_user", "room")}
        return Response(RuleOutput(availability.rule_update(rule=rule, **values)).data)

    @extend_schema(responses={204: None, **errors(401, 404)})
    def delete(self, request: Request, rule_id: int) -> Response:
        availability.rule_get(user=request.user, rule_id=rule_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExceptionListApi(PaginatedApi, APIView):
    @extend_schema(parameters=[ResourceFilter], responses={200: ExceptionOutput(many=True), **errors(400, 401)})
    def get(self, request: Request) -> Response:
        filters = ResourceFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = availability.exception_list(user=request.user, resource_id=filters.validated_data.get("resource"))
        return paginate(request, self, rows, ExceptionOutput)

    @extend_schema(request=ExceptionInput, responses={201: ExceptionOutput, **errors(400, 401, 404)})
    def post(self, request: Request) -> Response:
        data = ExceptionInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        exception = availability.exception_create(resource=_resource(request, values), **values)
        return Response(ExceptionOutput(exception).data, status=status.HTTP_201_CREATED)


class ExceptionDetailApi(APIView):
    @extend_schema(responses={200: ExceptionOutput, **errors(401, 404)})
    def get(self, request: Request, exception_id: int) -> Response:
        return Response(ExceptionOutput(availability.exception_get(user=request.user, exception_id=exception_id)).data)

    @extend_schema(request=ExceptionInput(partial=True), responses={200: ExceptionOutput, **errors(400, 401, 404)})
    def patch(self, request: Request, exception_id: int) -> Response:
        exception = availability.exception_get(user=request.user, exception_id=exception_id)
        data = ExceptionInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = {k: v for k, v in data.validated_data.items() if k not in ("mediator", "staff_user", "room")}
        return Response(ExceptionOutput(availability.exception_update(exception=exception, **values)).data)

    @extend_schema(responses={204: None, **errors(401, 404)})
    def delete(self, request: Request, exception_id: int) -> Response:
        availability.exception_get(user=request.user, exception_id=exception_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class WindowInput(serializers.Serializer):
    start = UkDateTimeField()
    end = UkDateTimeField()
    tz = TimeZoneField(required=False, default="Europe/London")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["The end must be after the start."]})
        if attrs["end"] - attrs["start"] > MAX_WINDOW:
            raise serializers.ValidationError({"end": ["A window is at most 6 months."]})
        return attrs


def _iso(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).isoformat()


class MediatorFreeBusyApi(APIView):
    """A mediator's free and busy time (what, not why) for coordinators of their provider."""

    @extend_schema(parameters=[WindowInput], responses={200: dict, **errors(400, 401, 403, 404)})
    def get(self, request: Request, mediator_id: int) -> Response:
        mediator = mediator_get(user=request.user, mediator_id=mediator_id)
        if not mediator_can_edit(user=request.user, mediator=mediator) and mediator.user_id != request.user.pk:
            raise PermissionDenied
        window = WindowInput(data=request.query_params)
        window.is_valid(raise_exception=True)
        start, end, tz = window.validated_data["start"], window.validated_data["end"], window.validated_data["tz"]
        free, busy = _free_busy(mediator, start, end)
        return Response(
            {
                "mediator": mediator.pk,
                "start": _iso(start, tz),
                "end": _iso(end, tz),
                "free": [{"start": _iso(a, tz), "end": _iso(b, tz)} for a, b in free],
                "busy": [{"start": _iso(a, tz), "end": _iso(b, tz)} for a, b in busy],
            }
        )


def _free_busy(mediator: Any, start: datetime, end: datetime) -> tuple[list[Any], list[Any]]:
    from scheduling.search import _available, _default_rules, _load

    resource = getattr(mediator, "resource", None)
    rid = resource.pk if resource else None
    loaded = _load([rid] if rid else [], start, end, timezone.now())
    available = _available(
        rid, loaded, _default_rules(mediator.provider, mediator.timezone), start, end, closed_days(start, end)
    )
    busy = engine.normalize(loaded.busy.get(rid, [])) if rid else []
    return engine.subtract(available, busy), engine.intersect(busy, [(start, end)])


class SlotQueryInput(serializers.Serializer):
    duration = serializers.IntegerField(required=False, default=180, help_text="Minutes (1–480)")
    after = UkDateTimeField(required=False)
    before = UkDateTimeField(required=False)
    mode = serializers.ChoiceField(choices=["online", "in_person"], required=False)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=200)
    allow_late = StrictBooleanField(required=False, default=False)
    tz = TimeZoneField(required=False, default="Europe/London")

    def to_internal_value(self, data: Any) -> Any:
        data = data.copy() if hasattr(data, "copy") else dict(data)
        if "allow_late" in data:
            raw = str(data["allow_late"]).lower()
            data["allow_late"] = {"true": True, "1": True, "false": False, "0": False}.get(raw, data["allow_late"])
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        if not 0 < attrs["duration"] <= 480:
            errors["duration"] = ["A meeting lasts more than 0 and at most 480 minutes (8 hours)."]
        after, before = attrs.get("after"), attrs.get("before")
        if after and before and before <= after:
            errors["before"] = ["This is not after 'after'."]
        elif after and before and before - after > MAX_WINDOW:
            errors["before"] = ["A search window is at most 6 months."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class SlotOutput(serializers.Serializer):
    start = serializers.CharField()
    end = serializers.CharField()
    mediator = serializers.DictField()
    mode = serializers.CharField()
    venue = serializers.DictField(allow_null=True)
    room = serializers.DictField(allow_null=True)
    late = serializers.BooleanField()
    score = serializers.FloatField()
    reasons = serializers.ListField(child=serializers.CharField())
    calendar_up_to_date = serializers.BooleanField()


def slot_as_dict(slot: engine.Slot, *, mediators: dict[int, Any], rooms: dict[int, Any], tz: str) -> dict[str, Any]:
    mediator = mediators[slot.mediator_id]
    room = rooms.get(slot.room_id) if slot.room_id else None
    venue = room.venue if room else None
    return {
        "start": _iso(slot.start, tz),
        "end": _iso(slot.end, tz),
        "mediator": {"id": mediator.pk, "name": mediator.name},
        "mode": slot.mode,
        "venue": {"id": venue.pk, "name": venue.name, "address": venue.address, "features": venue.features}
        if venue
        else None,
        "room": {"id": room.pk, "name": room.name} if room else None,
        "late": slot.late,
        "score": round(slot.score, 3),
        "reasons": list(slot.reasons),
        "calendar_up_to_date": not slot.stale_calendar,
    }


class CaseSlotListApi(APIView):
    """Times when everyone the case needs can meet, before the mediation due date unless allow_late."""

    @extend_schema(parameters=[SlotQueryInput], responses={200: dict, **errors(400, 401, 404)})
    def get(self, request: Request, case_id: int) -> Response:
        case = case_get(user=request.user, case_id=case_id)
        params = SlotQueryInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        p = params.validated_data
        query = SlotQuery(
            duration=timedelta(minutes=p["duration"]),
            after=p.get("after"),
            before=p.get("before"),
            mode=p.get("mode"),
            limit=p["limit"],
            allow_late=p["allow_late"],
        )
        result = case_slot_search(case=case, query=query, now=timezone.now())
        tz = p["tz"]
        slots = [slot_as_dict(s, mediators=result.mediators, rooms=result.rooms, tz=tz) for s in result.slots]
        body: dict[str, Any] = {
            "slots": slots,
            "earliest_start": _iso(result.earliest_start, tz),
            "mediation_due": case.mediation_due.isoformat() if case.mediation_due else None,
            "none_before_due": case.mediation_due is not None and not any(not s["late"] for s in slots),
        }
        if body["none_before_due"] and not p["allow_late"]:
            body["statutory_path"] = {
                "message": "No time before the mediation due date suits everyone. Record that mediation cannot be "
                "arranged within 30 days: the certificate is then due within 3 working days, and the case stays "
                "schedulable. Search again with allow_late=true for later times.",
                "transition": {
                    "method": "POST",
                    "url": f"/api/cases/{case.pk}/transitions/",
                    "body": {"to": "not_arranged_30_days"},
                },
            }
        return Response(body)
