"""One error shape across the API: {"message": str, "extra": {...}}; field errors under extra.fields."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
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


UNAVAILABLE_MESSAGE = "The service is briefly unavailable; try again."
RETRY_AFTER_SECONDS = "5"


def database_unavailable(exc: BaseException) -> bool:
    """The database could not serve the request for now (connection lost, server restarting, lock or statement
    timeout, deadlock): a 503 the caller may retry. Only OperationalError and InterfaceError mean that. Any other
    database error would fail the same way on a retry: a DataError is a value that slipped past validation (400 in the
    API), an IntegrityError a conflict with the data (409 in the API), a ProgrammingError or the rest a bug (500)."""
    # InterfaceError ("connection already closed") is not a DatabaseError in Django's hierarchy.
    return isinstance(exc, OperationalError | InterfaceError)


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
    if isinstance(exc, DataError):
        # A value our validation let through and the database refused (too long, out of range): the caller's input,
        # so a 400, but also a gap in the validation, so logged with the details for us to close it.
        logger.warning("Database refused a value (mapped to 400)", exc_info=exc)
        return Response(_body("The request has a value that cannot be stored.", {"fields": {}}), status=400)
    if isinstance(exc, exceptions.APIException):
        response = exception_handler(exc, context)
        if response is not None:
            detail = exc.detail
            message = str(detail) if not isinstance(detail, dict | list) else "The request was refused."
            response.data = _body(message)
        return response
    if database_unavailable(exc):
        logger.exception("Database unavailable")
        return Response(_body(UNAVAILABLE_MESSAGE), status=503, headers={"Retry-After": RETRY_AFTER_SECONDS})
    return None


def json_not_found(request: Any, exception: Exception | None = None) -> Any:
    """404 for an unknown address: the API's JSON shape under /api/, a plain page elsewhere."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        return JsonResponse(_body("Not found."), status=404)
    return page_not_found(request, exception)


def server_error(request: Any) -> Any:
    """The last resort for an error nothing else handled: 503 when the database could not serve the request (an error
    raised outside a view, say in a middleware's own query; `database_unavailable`), a plain 500 otherwise, including
    a ProgrammingError or IntegrityError nothing else mapped. JSON under /api/."""
    import sys

    from django.http import HttpResponse, JsonResponse
    from django.template.loader import render_to_string

    exc = sys.exc_info()[1]
    unavailable = exc is not None and database_unavailable(exc)
    status, message = (503, UNAVAILABLE_MESSAGE) if unavailable else (500, "Something went wrong on our side.")
    if request.path.startswith("/api/"):
        response: Any = JsonResponse(_body(message), status=status)
    else:
        # Without the request: its context processors would query the database that may just have failed.
        response = HttpResponse(render_to_string(f"{status}.html"), status=status)
    if unavailable:
        response["Retry-After"] = RETRY_AFTER_SECONDS
    return response
