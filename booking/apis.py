"""API for cases, their participants, their history and their state transitions."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import selectors, services
from booking.models import Case, Participant
from booking.states import STATE_CHOICES, next_states
from core.clock import local_today
from core.fields import (
    IdField,
    PhoneNumberField,
    RelatedIdsField,
    StrictBooleanField,
    StringListField,
    TimeZoneField,
    VisibleOrganisationField,
)
from core.openapi import errors
from core.pagination import PaginatedApi, paginate


class CaseInput(serializers.Serializer):
    provider = VisibleOrganisationField()
    local_authority = VisibleOrganisationField()
    icbs = VisibleOrganisationField(many=True, required=False)
    state = serializers.ChoiceField(choices=["advice_requested", "mediation_requested"], required=False)
    route = serializers.ChoiceField(choices=Case.Route.choices)
    decision = serializers.ChoiceField(choices=Case.Decision.choices)
    issues = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    health_provision_sought = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    placement_only = StrictBooleanField(required=False, default=False)
    health_involved = StrictBooleanField(required=False, default=False)
    social_care_involved = StrictBooleanField(required=False, default=False)
    child_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    child_date_of_birth = serializers.DateField(required=False, allow_null=True)
    school_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    needs_language = serializers.CharField(required=False, allow_blank=True, max_length=40)
    interpreter_arranged = StrictBooleanField(required=False, default=False)
    short_notice_consent = StrictBooleanField(required=False, default=False)
    decision_sent = serializers.DateField(required=False, allow_null=True)
    adviser_contacted = serializers.DateField(required=False, allow_null=True)
    family_requested = serializers.DateField(required=False, allow_null=True)
    la_notified = serializers.DateField(required=False, allow_null=True)
    icb_informed = serializers.DateField(required=False, allow_null=True)


class CaseUpdateInput(CaseInput):
    provider = None  # type: ignore[assignment]
    local_authority = None  # type: ignore[assignment]
    state = None  # type: ignore[assignment]


class DeadlineOutput(serializers.Serializer):
    due = serializers.DateField()
    rule = serializers.CharField()
    version = serializers.CharField()


class CaseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    state = serializers.CharField()
    next_states = serializers.SerializerMethodField()
    provider = serializers.IntegerField(source="provider_id")
    local_authority = serializers.IntegerField(source="local_authority_id")
    icbs = RelatedIdsField()
    mediator = serializers.IntegerField(source="mediator_id", allow_null=True)
    route = serializers.CharField()
    decision = serializers.CharField()
    issues = serializers.CharField()
    health_provision_sought = serializers.CharField()
    placement_only = serializers.BooleanField()
    health_involved = serializers.BooleanField()
    social_care_involved = serializers.BooleanField()
    certificate_required = serializers.BooleanField()
    child_name = serializers.CharField()
    child_date_of_birth = serializers.DateField(allow_null=True)
    school_name = serializers.CharField()
    needs_language = serializers.CharField()
    interpreter_arranged = serializers.BooleanField()
    short_notice_consent = serializers.BooleanField()
    decision_sent = serializers.DateField(allow_null=True)
    adviser_contacted = serializers.DateField(allow_null=True)
    family_requested = serializers.DateField(allow_null=True)
    la_notified = serializers.DateField(allow_null=True)
    icb_informed = serializers.DateField(allow_null=True)
    certificate_trigger = serializers.CharField()
    certificate_trigger_date = serializers.DateField(allow_null=True)
    certificate_issued_on = serializers.DateField(allow_null=True)
    held_on = serializers.DateField(allow_null=True)
    deadlines = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_next_states(self, case: Case) -> list[str]:
        return next_states(case, case.state)

    def get_deadlines(self, case: Case) -> dict[str, Any]:
        out = {}
        for kind, field in services.DEADLINE_FIELDS.items():
            due = getattr(case, field)
            if due is not None:
                rule = case.deadline_rules.get(kind, {})
                out[kind] = {
                    "due": due.isoformat(),
                    "rule": rule.get("rule", ""),
                    "version": rule.get("version", ""),
                }
        return out


class CaseEventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    actor = serializers.CharField(source="actor_label")
    reason = serializers.CharField()
    details = serializers.JSONField()
    at = serializers.DateTimeField()


class CaseDetailOutput(CaseOutput):
    history = CaseEventOutput(many=True, source="events")


class CaseFilter(serializers.Serializer):
    state = serializers.ChoiceField(choices=STATE_CHOICES, required=False)
    local_authority = IdField(required=False)
    mediation_due_before = serializers.DateField(required=False)


class CaseListApi(PaginatedApi, APIView):
    @extend_schema(parameters=[CaseFilter], responses={200: CaseOutput(many=True), **errors(400, 401)})
    def get(self, request: Request) -> Response:
        filters = CaseFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        cases = selectors.case_list(user=request.user, filters=filters.validated_data)
        return paginate(request, self, cases, CaseOutput)

    @extend_schema(request=CaseInput, responses={201: CaseDetailOutput, **errors(400, 401)})
    def post(self, request: Request) -> Response:
        data = CaseInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        case = services.case_create(actor=request.user, today=local_today(), **data.validated_data)
        return Response(CaseDetailOutput(case).data, status=status.HTTP_201_CREATED)


class CaseDetailApi(APIView):
    @extend_schema(responses={200: CaseDetailOutput, **errors(401, 404)})
    def get(self, request: Request, case_id: int) -> Response:
        return Response(CaseDetailOutput(selectors.case_get(user=request.user, case_id=case_id)).data)

    @extend_schema(
        request=CaseUpdateInput(partial=True), responses={200: CaseDetailOutput, **errors(400, 401, 403, 404)}
    )
    def patch(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get(user=request.user, case_id=case_id)
        services.case_assert_editable(user=request.user, case=case)
        data = CaseUpdateInput(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        case = services.case_update(case=case, actor=request.user, today=local_today(), **data.validated_data)
        return Response(CaseDetailOutput(case).data)


class TransitionInput(serializers.Serializer):
    to = serializers.ChoiceField(choices=STATE_CHOICES)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    on = serializers.DateField(required=False, help_text="The day it happened (default today, Europe/London).")


class CaseTransitionApi(APIView):
    @extend_schema(request=TransitionInput, responses={200: CaseDetailOutput, **errors(400, 401, 403, 404, 409)})
    def post(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get(user=request.user, case_id=case_id)
        services.case_assert_editable(user=request.user, case=case)
        data = TransitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        case = services.case_transition(
            case=case,
            actor=request.user,
            target=data.validated_data["to"],
            reason=data.validated_data.get("reason", ""),
            on=data.validated_data.get("on"),
            today=local_today(),
        )
        return Response(CaseDetailOutput(case).data)


class CaseHistoryApi(PaginatedApi, APIView):
    @extend_schema(responses={200: CaseEventOutput(many=True), **errors(401, 404)})
    def get(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get(user=request.user, case_id=case_id)
        return paginate(request, self, selectors.case_events(case=case), CaseEventOutput)


class ParticipantInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Participant.Role.choices)
    required = StrictBooleanField(required=False)
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True)
    mobile = PhoneNumberField(required=False, allow_blank=True)
    preferred_channels = StringListField(choices=Participant.Channel.values, required=False)
    language = serializers.CharField(max_length=40, required=False)
    decision_authority = StrictBooleanField(required=False)
    step_free_access = StrictBooleanField(required=False)
    hearing_loop = StrictBooleanField(required=False)
    bsl_interpreter = StrictBooleanField(required=False)
    interpreter_language = serializers.CharField(max_length=40, required=False, allow_blank=True)
    access_notes = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    timezone = TimeZoneField(required=False)
    relationship = serializers.CharField(max_length=100, required=False, allow_blank=True)


class ParticipantOutput(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    role = serializers.CharField()
    required = serializers.BooleanField()
    name = serializers.CharField()
    email = serializers.CharField()
    mobile = serializers.CharField()
    preferred_channels = serializers.ListField(child=serializers.CharField())
    language = serializers.CharField()
    decision_authority = serializers.BooleanField()
    step_free_access = serializers.BooleanField()
    hearing_loop = serializers.BooleanField()
    bsl_interpreter = serializers.BooleanField()
    interpreter_language = serializers.CharField()
    access_notes = serializers.CharField()
    timezone = serializers.CharField()
    relationship = serializers.CharField()


class ParticipantListApi(PaginatedApi, APIView):
    @extend_schema(responses={200: ParticipantOutput(many=True), **errors(401, 404)})
    def get(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get(user=request.user, case_id=case_id)
        return paginate(request, self, selectors.participant_list(case=case), ParticipantOutput)

    @extend_schema(request=ParticipantInput, responses={201: ParticipantOutput, **errors(400, 401, 403, 404)})
    def post(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get(user=request.user, case_id=case_id)
        services.case_assert_editable(user=request.user, case=case)
        data = ParticipantInput(data=request.data)
        data.is_valid(raise_exception=True)
        participant = services.participant_create(case=case, actor=request.user, **data.validated_data)
        return Response(ParticipantOutput(participant).data, status=status.HTTP_201_CREATED)


class ParticipantDetailApi(APIView):
    def _get(self, request: Request, case_id: int, participant_id: int) -> Participant:
        case = selectors.case_get(user=request.user, case_id=case_id)
        return selectors.participant_get(case=case, participant_id=participant_id)

    @extend_schema(responses={200: ParticipantOutput, **errors(401, 404)})
    def get(self, request: Request, case_id: int, participant_id: int) -> Response:
        return Response(ParticipantOutput(self._get(request, case_id, participant_id)).data)

    @extend_schema(
        request=ParticipantInput(partial=True), responses={200: ParticipantOutput, **errors(400, 401, 403, 404)}
    )
    def patch(self, request: Request, case_id: int, participant_id: int) -> Response:
        participant = self._get(request, case_id, participant_id)
        services.case_assert_editable(user=request.user, case=participant.case)
        data = ParticipantInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        participant = services.participant_update(participant=participant, actor=request.user, **data.validated_data)
        return Response(ParticipantOutput(participant).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def delete(self, request: Request, case_id: int, participant_id: int) -> Response:
        participant = self._get(request, case_id, participant_id)
        services.case_assert_editable(user=request.user, case=participant.case)
        services.participant_delete(participant=participant, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
