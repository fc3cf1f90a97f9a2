"""The mediator's pages: weekly availability, days off and extra time, and upcoming meetings with who is coming."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.clock import local_today
from scheduling import availability
from scheduling.models import Mediator, Resource
from scheduling.occupancy import resource_for_mediator
from web.forms import CalendarConnectForm, ExceptionForm, RuleForm
from web.selectors import mediator_for, mediator_upcoming, meeting_attendees
from web.views.pages import LOGIN_URL

EXCEPTION_IDS = "id_change_%s"  # both forms have start and end times: their inputs need different ids


def _mine(request: HttpRequest) -> tuple[Mediator, Resource]:
    mediator = mediator_for(request.user)
    if mediator is None:
        raise Http404("You do not have a mediator profile.")
    return mediator, resource_for_mediator(mediator)


def _page(request: HttpRequest, *, rule_form: RuleForm | None = None, exception_form: ExceptionForm | None = None,
          calendar_form: Any = None, status: int = 200) -> HttpResponse:  # fmt: skip
    mediator, resource = _mine(request)
    now = timezone.now()
    meetings = [(m, meeting_attendees(m)) for m in mediator_upcoming(mediator=mediator, now=now)]
    context: dict[str, Any] = {
        "mediator": mediator,
        "rules": availability.rule_list(user=request.user, resource_id=resource.pk).order_by("weekday", "start_time"),
        "exceptions": availability.exception_list(user=request.user, resource_id=resource.pk)
        .filter(last_day__gte=local_today(now))
        .order_by("first_day"),
        "rule_form": rule_form or RuleForm(),
        "exception_form": exception_form or ExceptionForm(auto_id=EXCEPTION_IDS),
        "form": rule_form if rule_form is not None and rule_form.errors else (exception_form or calendar_form),
        "meetings": meetings,
        "calendar_form": calendar_form or CalendarConnectForm(),
        **_calendar_context(request, resource, mediator),
    }
    return render(request, "web/staff/mediator.html", context, status=status)


@login_required(login_url=LOGIN_URL)
def overview(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _apply_errors(form: Any, error: ValidationError) -> None:
    for name, problems in error.message_dict.items():
        for problem in problems:
            form.add_error(name if name in form.fields else None, problem)


@login_required(login_url=LOGIN_URL)
@require_POST
def rule_add(request: HttpRequest) -> HttpResponse:
    mediator, resource = _mine(request)
    form = RuleForm(request.POST)
    if form.is_valid():
        try:
            availability.rule_create(resource=resource, timezone=mediator.timezone, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "Weekly time added")
            return redirect("web:mediator")
    return _page(request, rule_form=form, status=400)


@login_required(login_url=LOGIN_URL)
@require_POST
def rule_remove(request: HttpRequest, rule_id: int) -> HttpResponse:
    _, resource = _mine(request)
    rule = availability.rule_get(user=request.user, rule_id=rule_id)
    if rule.resource_id != resource.pk:
        raise Http404
    rule.delete()
    messages.success(request, "Weekly time removed")
    return redirect("web:mediator")


@login_required(login_url=LOGIN_URL)
@require_POST
def exception_add(request: HttpRequest) -> HttpResponse:
    mediator, resource = _mine(request)
    form = ExceptionForm(request.POST, auto_id=EXCEPTION_IDS)
    if form.is_valid():
        try:
            availability.exception_create(resource=resource, timezone=mediator.timezone, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "Day off added" if form.cleaned_data["kind"] == "off" else "Extra time added")
            return redirect("web:mediator")
    return _page(request, exception_form=form, status=400)


@login_required(login_url=LOGIN_URL)
@require_POST
def exception_remove(request: HttpRequest, exception_id: int) -> HttpResponse:
    _, resource = _mine(request)
    exception = availability.exception_get(user=request.user, exception_id=exception_id)
    if exception.resource_id != resource.pk:
        raise Http404
    exception.delete()
    messages.success(request, "Change removed")
    return redirect("web:mediator")


def _calendar_context(request: HttpRequest, resource: Resource, mediator: Mediator) -> dict[str, Any]:
    from booking.models import CalendarFeed
    from scheduling.models import CalendarConnection

    feed = CalendarFeed.objects.filter(mediator=mediator, revoked_at__isnull=True).first()
    return {
        "feed_url": f"{settings.SITE_URL}/calendar/{feed.token}.ics" if feed else None,
        "connection": CalendarConnection.objects.filter(resource=resource).first(),
    }


@login_required(login_url=LOGIN_URL)
@require_POST
def feed_create(request: HttpRequest) -> HttpResponse:
    """A new private feed URL; any earlier one stops working."""
    from booking.models import CalendarFeed

    mediator, _ = _mine(request)
    with transaction.atomic():
        CalendarFeed.objects.filter(mediator=mediator, revoked_at__isnull=True).update(revoked_at=timezone.now())
        CalendarFeed.objects.create(mediator=mediator, token=secrets.token_urlsafe(32))
    messages.success(request, "Your calendar feed address is ready")
    return redirect("web:mediator")


@login_required(login_url=LOGIN_URL)
@require_POST
def feed_revoke(request: HttpRequest) -> HttpResponse:
    from booking.models import CalendarFeed

    mediator, _ = _mine(request)
    CalendarFeed.objects.filter(mediator=mediator, revoked_at__isnull=True).update(revoked_at=timezone.now())
    messages.success(request, "Your calendar feed address no longer works")
    return redirect("web:mediator")


@login_required(login_url=LOGIN_URL)
@require_POST
def calendar_connect(request: HttpRequest) -> HttpResponse:
    from core.errors import ApplicationError
    from scheduling.caldav.connections import connection_create
    from web.forms import CalendarConnectForm

    _, resource = _mine(request)
    form = CalendarConnectForm(request.POST)
    if form.is_valid():
        try:
            connection_create(resource=resource, **form.cleaned_data)
        except ApplicationError as exc:
            fields = exc.extra.get("fields", {})
            for name, problems in fields.items():
                for problem in problems:
                    form.add_error(name if name in form.fields else None, problem)
            if not fields:
                form.add_error(None, exc.message)
        else:
            messages.success(request, "Your calendar is connected")
            return redirect("web:mediator")
    return _page(request, calendar_form=form, status=400)


@login_required(login_url=LOGIN_URL)
@require_POST
def calendar_sync(request: HttpRequest) -> HttpResponse:
    from scheduling.caldav.connections import connection_sync_request
    from scheduling.models import CalendarConnection

    _, resource = _mine(request)
    connection = CalendarConnection.objects.filter(resource=resource).first()
    if connection is None:
        raise Http404
    connection = connection_sync_request(connection=connection, now=timezone.now())
    if connection.last_error:
        messages.success(request, "We could not read your calendar just now; we will try again")
    else:
        messages.success(request, "Your calendar has been read")
    return redirect("web:mediator")


@login_required(login_url=LOGIN_URL)
@require_POST
def calendar_disconnect(request: HttpRequest) -> HttpResponse:
    from scheduling.caldav.connections import connection_delete
    from scheduling.models import CalendarConnection

    _, resource = _mine(request)
    connection = CalendarConnection.objects.filter(resource=resource).first()
    if connection is None:
        raise Http404
    connection_delete(connection=connection)
    messages.success(request, "Your calendar is disconnected")
    return redirect("web:mediator")
