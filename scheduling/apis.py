"""API for mediators and venues."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.fields import (
    PhoneNumberField,
    RelatedIdsField,
    StrictBooleanField,
    StringListField,
    TimeZoneField,
    VisibleOrganisationField,
    WallClockTimeField,
)
from core.models import Organisation
from core.openapi import errors
from core.pagination import PaginatedApi, paginate
from scheduling import selectors, services
from scheduling.models import ACCESS_FEATURES, Mediator

_org = Organisation.objects.all()


class MediatorInput(serializers.Serializer):
    provider = VisibleOrganisationField()
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField()
    mobile = PhoneNumberField(required=False, allow_blank=True)
    active = StrictBooleanField(required=False)
    register = serializers.ChoiceField(choices=Mediator.Register.choices, required=False)
    register_id = serializers.CharField(max_length=60, required=False, allow_blank=True)
    accreditation_expires = serializers.DateField()
    specialisms = StringListField(choices=Mediator.Specialism.values, required=False)
    languages = StringListField(required=False)
    areas = serializers.PrimaryKeyRelatedField(queryset=_org, many=True, required=False)
    employers = serializers.PrimaryKeyRelatedField(queryset=_org, many=True, required=False)
    online = StrictBooleanField(required=False, default=True)
    in_person = StrictBooleanField(required=False, default=True)
    max_active_cases = serializers.IntegerField(min_value=1, max_value=100, required=False)
    independence_declared_on = serializers.DateField(required=False, allow_null=True)
    timezone = TimeZoneField(required=False)
    buffer_before_minutes = serializers.IntegerField(min_value=0, max_value=240, required=False)
    buffer_after_minutes = serializers.IntegerField(min_value=0, max_value=240, required=False)
    max_meetings_per_day = serializers.IntegerField(min_value=1, max_value=4, required=False)
    max_meetings_per_week = serializers.IntegerField(min_value=1, max_value=20, required=False)


class MediatorOutput(serializers.Serializer):
    id = serializers.IntegerField()
    provider = serializers.IntegerField(source="provider_id")
    name = serializers.CharField()
    email = serializers.SerializerMethodField(help_text="Empty unless the caller is the mediator or their provider")
    mobile = serializers.SerializerMethodField(help_text="Empty unless the caller is the mediator or their provider")
    active = serializers.BooleanField()
    register = serializers.CharField()
    register_id = serializers.CharField()
    accreditation_expires = serializers.DateField()
    specialisms = serializers.ListField(child=serializers.CharField())
    languages = serializers.ListField(child=serializers.CharField())
    areas = RelatedIdsField()
    employers = RelatedIdsField()
    online = serializers.BooleanField()
    in_person = serializers.BooleanField()
    max_active_cases = serializers.IntegerField()
    independence_declared_on = serializers.DateField(allow_null=True)
    timezone = serializers.CharField()
    buffer_before_minutes = serializers.IntegerField()
    buffer_after_minutes = serializers.IntegerField()
    max_meetings_per_day = serializers.IntegerField()
    max_meetings_per_week = serializers.IntegerField()

    def _contact(self, mediator: Mediator, value: str) -> str:
        """A mediator's own email and mobile are for them and their provider; the LA's staff book through the
        service and reach the mediator through the provider."""
        request = self.context.get("request")
        if request is None:
            return value
        user = request.user
        own = mediator.user_id is not None and mediator.user_id == user.pk
        return value if own or selectors.mediator_can_edit(user=user, mediator=mediator) else ""

    def get_email(self, mediator: Mediator) -> str:
        return self._contact(mediator, mediator.email)

    def get_mobile(self, mediator: Mediator) -> str:
        return self._contact(mediator, mediator.mobile)


class MediatorListApi(PaginatedApi, APIView):
    @extend_schema(responses={200: MediatorOutput(many=True), **errors(401)})
    def get(self, request: Request) -> Response:
        return paginate(request, self, selectors.mediator_list(user=request.user), MediatorOutput)

    @extend_schema(request=MediatorInput, responses={201: MediatorOutput, **errors(400, 401)})
    def post(self, request: Request) -> Response:
        data = MediatorInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        mediator = services.mediator_create(actor=request.user, **data.validated_data)
        return Response(MediatorOutput(mediator, context={"request": request}).data, status=status.HTTP_201_CREATED)


class MediatorDetailApi(APIView):
    @extend_schema(responses={200: MediatorOutput, **errors(401, 404)})
    def get(self, request: Request, mediator_id: int) -> Response:
        mediator = selectors.mediator_get(user=request.user, mediator_id=mediator_id)
        return Response(MediatorOutput(mediator, context={"request": request}).data)

    @extend_schema(request=MediatorInput(partial=True), responses={200: MediatorOutput, **errors(400, 401, 403, 404)})
    def patch(self, request: Request, mediator_id: int) -> Response:
        mediator = selectors.mediator_get(user=request.user, mediator_id=mediator_id)
        data = MediatorInput(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        fields = {k: v for k, v in data.validated_data.items() if k != "provider"}
        mediator = services.mediator_update(mediator=mediator, actor=request.user, **fields)
        return Response(MediatorOutput(mediator, context={"request": request}).data)


class RoomSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=100)
    capacity = serializers.IntegerField(min_value=1, max_value=200, required=False)
    features = StringListField(choices=ACCESS_FEATURES, required=False)


class VenueInput(serializers.Serializer):
    owner = VisibleOrganisationField()
    name = serializers.CharField(max_length=200)
    online_only = StrictBooleanField(required=False, default=False)
    address = serializers.CharField(required=False, allow_blank=True)
    town = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postcode = serializers.CharField(max_length=10, required=False, allow_blank=True)
    features = StringListField(choices=ACCESS_FEATURES, required=False)
    access_notes = serializers.CharField(required=False, allow_blank=True)
    timezone = TimeZoneField(required=False)
    opens_at = WallClockTimeField(required=False, allow_null=True)
    closes_at = WallClockTimeField(required=False, allow_null=True)
    active = StrictBooleanField(required=False)
    rooms = RoomSerializer(many=True, required=False)


class VenueOutput(serializers.Serializer):
    id = serializers.IntegerField()
    owner = serializers.IntegerField(source="owner_id")
    name = serializers.CharField()
    online_only = serializers.BooleanField()
    address = serializers.CharField()
    town = serializers.CharField()
    postcode = serializers.CharField()
    features = serializers.ListField(child=serializers.CharField())
    access_notes = serializers.CharField()
    timezone = serializers.CharField()
    opens_at = WallClockTimeField(allow_null=True)
    closes_at = WallClockTimeField(allow_null=True)
    active = serializers.BooleanField()
    rooms = RoomSerializer(many=True)


class VenueListApi(PaginatedApi, APIView):
    @extend_schema(responses={200: VenueOutput(many=True), **errors(401)})
    def get(self, request: Request) -> Response:
        return paginate(request, self, selectors.venue_list(user=request.user), VenueOutput)

    @extend_schema(request=VenueInput, responses={201: VenueOutput, **errors(400, 401)})
    def post(self, request: Request) -> Response:
        data = VenueInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        venue = services.venue_create(actor=request.user, **data.validated_data)
        return Response(VenueOutput(venue).data, status=status.HTTP_201_CREATED)


class VenueDetailApi(APIView):
    @extend_schema(responses={200: VenueOutput, **errors(401, 404)})
    def get(self, request: Request, venue_id: int) -> Response:
        return Response(VenueOutput(selectors.venue_get(user=request.user, venue_id=venue_id)).data)

    @extend_schema(request=VenueInput(partial=True), responses={200: VenueOutput, **errors(400, 401, 403, 404)})
    def patch(self, request: Request, venue_id: int) -> Response:
        venue = selectors.venue_get(user=request.user, venue_id=venue_id)
        if not selectors.venue_can_edit(user=request.user, venue=venue):
            raise PermissionDenied
        data = VenueInput(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        fields = {k: v for k, v in data.validated_data.items() if k != "owner"}
        venue = services.venue_update(venue=venue, actor=request.user, **fields)
        return Response(VenueOutput(venue).data)
