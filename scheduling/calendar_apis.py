"""API for connected calendars (CalDAV). The app password goes in and never comes out."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.fields import IdField, StrictBooleanField
from core.openapi import errors
from core.pagination import PaginatedApi, paginate
from scheduling.availability import resource_resolve
from scheduling.caldav import connections
from scheduling.caldav.sync import connection_is_stale
from scheduling.models import CalendarConnection


class CredentialsInput(serializers.Serializer):
    server_url = serializers.URLField(max_length=500)
    username = serializers.CharField(max_length=200)
    app_password = serializers.CharField(max_length=500, trim_whitespace=False, style={"input_type": "password"})


class ConnectionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    resource = serializers.IntegerField(source="resource_id")
    mediator = serializers.IntegerField(source="resource.mediator_id", allow_null=True)
    staff_user = serializers.IntegerField(source="resource.user_id", allow_null=True)
    server_url = serializers.CharField()
    username = serializers.CharField()
    calendar_url = serializers.CharField()
    calendar_name = serializers.CharField()
    push_enabled = serializers.BooleanField()
    sync_mode = serializers.CharField()
    last_sync_at = serializers.DateTimeField(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    consecutive_failures = serializers.IntegerField()
    breaker_open_until = serializers.DateTimeField(allow_null=True)
    stale = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_stale(self, connection: CalendarConnection) -> bool:
        return connection_is_stale(connection, now=self.context.get("now") or timezone.now())


class CalendarOutput(serializers.Serializer):
    url = serializers.CharField()
    name = serializers.CharField()


class CalendarListOutput(serializers.Serializer):
    calendars = CalendarOutput(many=True)


class ConnectionListApi(PaginatedApi, APIView):
    class InputSerializer(CredentialsInput):
        mediator = IdField(required=False)
        staff_user = IdField(required=False)
        calendar_url = serializers.URLField(max_length=500, required=False)
        calendar_name = serializers.CharField(max_length=200, required=False)
        push_enabled = StrictBooleanField(required=False, default=True)

    @extend_schema(responses={200: ConnectionOutput(many=True), **errors(401)})
    def get(self, request: Request) -> Response:
        return paginate(request, self, connections.connection_list(user=request.user), ConnectionOutput)

    @extend_schema(request=InputSerializer, responses={201: ConnectionOutput, **errors(400, 401, 404, 409)})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values: dict[str, Any] = dict(data.validated_data)
        ref = {k: values.pop(k) for k in ("mediator", "staff_user") if k in values}
        resource = resource_resolve(user=request.user, **ref)
        connection = connections.connection_create(resource=resource, **values)
        connection = connections.connection_sync_request(connection=connection, now=timezone.now())
        return Response(ConnectionOutput(connection).data, status=status.HTTP_201_CREATED)


class ConnectionDetailApi(APIView):
    @extend_schema(responses={200: ConnectionOutput, **errors(401, 404)})
    def get(self, request: Request, connection_id: int) -> Response:
        return Response(
            ConnectionOutput(connections.connection_get(user=request.user, connection_id=connection_id)).data
        )

    @extend_schema(responses={204: None, **errors(401, 404)})
    def delete(self, request: Request, connection_id: int) -> Response:
        connection = connections.connection_get(user=request.user, connection_id=connection_id)
        connections.connection_delete(connection=connection)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConnectionTestApi(APIView):
    @extend_schema(request=CredentialsInput, responses={200: CalendarListOutput, **errors(400, 401)})
    def post(self, request: Request) -> Response:
        data = CredentialsInput(data=request.data)
        data.is_valid(raise_exception=True)
        calendars = connections.calendars_list(**data.validated_data)
        return Response(CalendarListOutput({"calendars": calendars}).data)


class ConnectionSyncApi(APIView):
    @extend_schema(request=None, responses={200: ConnectionOutput, **errors(401, 404)})
    def post(self, request: Request, connection_id: int) -> Response:
        connection = connections.connection_get(user=request.user, connection_id=connection_id)
        connection = connections.connection_sync_request(connection=connection, now=timezone.now())
        return Response(ConnectionOutput(connection).data)
