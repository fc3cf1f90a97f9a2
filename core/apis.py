from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.fields import RelatedIdsField
from core.openapi import errors
from core.pagination import PaginatedApi, paginate
from core.security import AddressRateThrottle, SignInThrottled
from core.selectors import organisation_get, organisation_list


class OrganisationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField()
    code = serializers.CharField()
    timezone = serializers.CharField()
    served_authorities = RelatedIdsField()
    partner_icbs = RelatedIdsField()
    scheduling_email = serializers.CharField(help_text="An email address, or empty when none is set.")
    sender = serializers.CharField(help_text="How messages to families name the organisation (neutral wording).")


class OrganisationListApi(PaginatedApi, APIView):
    @extend_schema(responses={200: OrganisationOutput(many=True), **errors(401)})
    def get(self, request: Request) -> Response:
        return paginate(request, self, organisation_list(user=request.user), OrganisationOutput)


class OrganisationDetailApi(APIView):
    @extend_schema(responses={200: OrganisationOutput, **errors(401, 404)})
    def get(self, request: Request, organisation_id: int) -> Response:
        organisation = organisation_get(user=request.user, organisation_id=organisation_id)
        return Response(OrganisationOutput(organisation).data)


class TokenThrottle(AddressRateThrottle):  # counted per client address, as the sign-in throttle (IPv6 by /64)
    rate = "20/min"


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()


class TokenObtainApi(ObtainAuthToken):
    """Exchange a username and password for an API token.

    Every password check is counted by the sign-in throttle (core/security.py): past the limit of failures for the
    account or the address, 429 with Retry-After, whatever the password. TokenThrottle is a plain rate limit besides.
    """

    throttle_classes = [TokenThrottle]

    @extend_schema(request=AuthTokenSerializer, responses={200: TokenOutput, **errors(400, 429)})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(exc, SignInThrottled):
            response.data["extra"] = {"retry_after_seconds": exc.wait}
        return response
