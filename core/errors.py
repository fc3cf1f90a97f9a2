"""One error shape across the API: {"message": str, "extra": {...}}; field errors under extra.fields."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, IntegrityError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A business rule refused the request. Status 400 unless a subclass says otherwise."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class ConflictError(ApplicationError):
    """The request clashes with the current state (an illegal transition, a slot already taken)."""

    status_code = status.HTTP_409_CONFLICT


class GoneError(ApplicationError):
    status_code = status.HTTP_410_GONE


def _field_errors(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {key: _field_errors(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [str(item) for item in detail]  # type: ignore[return-value]
        return [_field_errors(item) for item in detail]  # type: ignore[return-value]
    return [str(detail)]  # type: ignore[return-value]


def _body(message: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"message": message, "extra": extra or {}}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(_body(exc.message, exc.extra), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(_body("The request has invalid fields.", {"fields": fields}), status=400)
    if isinstance(exc, Http404):
        return Response(_body("Not found."), status=404)
    if isinstance(exc, PermissionDenied):
        return Response(_body("You do not have permission to do this."), status=403)
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return Response(_body("The request has invalid fields.", {"fields": _field_errors(detail)}), status=400)
    if isinstance(exc, IntegrityError):
        logger.info("Integrity error mapped to 409: %s", exc)
        return Response(_body("This conflicts with data that already exists."), status=409)
    if isinstance(exc, exceptions.APIException):
        response = exception_handler(exc, context)
        if response is not None:
            detail = exc.detail
            message = str(detail) if not isinstance(detail, dict | list) else "The request was refused."
            response.data = _body(message)
        return response
    if isinstance(exc, DatabaseError):
        logger.exception("Database unavailable")
        return Response(_body("The service is briefly unavailable; try again."), status=503)
    return None


def json_not_found(request: Any, exception: Exception | None = None) -> Any:
    """404 for an unknown address: the API's JSON shape under /api/, a plain page elsewhere."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        return JsonResponse(_body("Not found."), status=404)
    return page_not_found(request, exception)
