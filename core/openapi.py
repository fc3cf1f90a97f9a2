"""The API's conventions as the OpenAPI schema shows them: the one error shape (core/errors.py) under each status code
an operation can answer with. Lists are documented as pages by core.pagination.PaginatedApi."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorOutput(serializers.Serializer):
    message = serializers.CharField()
    extra = serializers.DictField(
        help_text="Details. For invalid input, extra.fields maps each refused field to its messages."
    )


_MEANING = {
    400: "Invalid input: extra.fields names each refused field with its messages.",
    401: "No valid credentials (send 'Authorization: Token <key>').",
    403: "Signed in, but not allowed to do this.",
    404: "No such object, or not one this caller may see.",
    409: "Refused in the current state (an illegal transition, a time already taken, already recorded).",
    410: "The link has expired.",
    429: "Too many requests: try again after the Retry-After header's seconds.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """`responses={200: Output, **errors(400, 401, 404)}`: each code answered with the error shape."""
    return {code: OpenApiResponse(ErrorOutput, description=_MEANING[code]) for code in codes}
