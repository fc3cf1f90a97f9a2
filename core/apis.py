from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from core.fields import RelatedIdsField
from core.pagination import paginate
from core.selectors import organisation_get, organisation_list


class OrganisationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField()
    code = serializers.CharField()
    timezone = serializers.CharField()
    served_authorities = RelatedIdsField()
    partner_icbs = RelatedIdsField()
    scheduling_email = serializers.EmailField()


class OrganisationListApi(APIView):
    @extend_schema(responses=OrganisationOutput(many=True))
    def get(self, request: Request) -> Response:
        return paginate(request, self, organisation_list(user=request.user), OrganisationOutput)


class OrganisationDetailApi(APIView):
    @extend_schema(responses=OrganisationOutput)
    def get(self, request: Request, organisation_id: int) -> Response:
        organisation = organisation_get(user=request.user, organisation_id=organisation_id)
        return Response(OrganisationOutput(organisation).data)


class TokenThrottle(AnonRateThrottle):
    rate = "20/min"


class TokenObtainApi(ObtainAuthToken):
    """Exchange a username and password for an API token."""

    throttle_classes = [TokenThrottle]
