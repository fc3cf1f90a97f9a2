"""Middleware of every request.

DatabaseUnavailableMiddleware: pages when the database cannot serve the request, a plain 503 page that says to try
again, never a 500. The API maps the same errors in core.errors.api_exception_handler; this covers the pages, whose
views let them propagate. Any transaction the view was in has been rolled back by then, so nothing is half-written.

MembershipsRememberedMiddleware: each user's memberships are read at most once per request (core.tenancy).

NulBytesRefusedMiddleware: no text with a NUL byte reaches a view (PostgreSQL cannot store or compare one).

NotStoredMiddleware: what the app answers (a family's meeting, a case) is not kept by browsers or proxies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import patch_cache_control

from core.errors import RETRY_AFTER_SECONDS, database_unavailable
from core.security import path_for_logs
from core.tenancy import memberships_remembered

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_unavailable(exception):
            return None
        # Never the raw path: a family's, an attendee's or a calendar feed's link carries its access token.
        logger.error("Database unavailable: %s %s", request.method, path_for_logs(request), exc_info=exception)
        # Rendered without the request: its context processors (the signed-in user, messages) would query the
        # database that has just failed.
        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response


class MembershipsRememberedMiddleware:
    """Each user's memberships are read at most once per request (core.tenancy)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with memberships_remembered():
            return self.get_response(request)


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class NulBytesRefusedMiddleware:
    """Nothing the service serves has a NUL byte in its address, and no value it takes may hold one: PostgreSQL
    refuses them, so a token or a form field with one would be a 500 there (and stored as given on SQLite). A path
    with one is a 404, a query or form value with one a 400. JSON bodies are checked by their serializers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            raise Http404
        query = request.META.get("QUERY_STRING", "")
        refused = "%00" in query or "\x00" in query
        if not refused and request.method == "POST" and request.content_type in FORM_TYPES:
            request.body  # noqa: B018 (read first, so the form is parsed from it and the stream stays for DRF)
            refused = any("\x00" in value for _, values in request.POST.lists() for value in values)
        if refused and request.path.startswith("/api/"):  # the API's one error shape
            return JsonResponse({"message": "A value holds a NUL byte, which is not text.", "extra": {}}, status=400)
        if refused:
            raise BadRequest("A value holds a NUL byte.")
        return self.get_response(request)


class NotStoredMiddleware:
    """Pages and answers carry a family's meeting, a case or a token: a shared phone's browser, or a proxy, must not
    keep them (Back after signing out asks the server again). Static files are served before this, with their own
    long cache; a view that sets Cache-Control keeps its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, no_store=True, private=True)
        return response
