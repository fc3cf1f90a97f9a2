"""The family's pages: no account, everything from the signed link in the offer.

Nothing about the case is shown here: no child's name, no dispute, no health detail. Only times, places and who to
contact.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from booking import offers
from booking.models import Meeting, Offer
from core.errors import ApplicationError, ConflictError, GoneError
from web import ics
from web.forms import FamilyCancelForm, FamilyChoiceForm, ReasonForm
from web.selectors import offer_meeting
from web.services import FamilyNeeds, family_cancel, family_confirm, family_request_new_time

PROBLEM_STATUS = {"unknown": 404, "expired": 410, "withdrawn": 409, "used": 409, "taken": 409, "closed": 409}


def _problem(request: HttpRequest, kind: str, offer: Offer | None) -> HttpResponse:
    provider = offer.case.provider if offer is not None else None
    return render(
        request,
        "web/family/problem.html",
        {"kind": kind, "provider": provider},
        status=PROBLEM_STATUS[kind],
    )


def _is_expired(offer: Offer, now: datetime) -> bool:
    return offer.status == Offer.Status.EXPIRED or (offer.status == Offer.Status.OPEN and offer.expires_at <= now)


@require_http_methods(["GET", "POST"])
def booking(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    offer = offers.offer_from_token(token)
    if offer is None:
        return _problem(request, "unknown", None)
    if offer.status == Offer.Status.ACCEPTED:
        if request.method == "POST":  # a second press, or Back and confirm again: only the link's holder can post
            return redirect(f"{request.path}?done=booked")
        return _meeting_page(request, token, offer)
    if offer.status == Offer.Status.WITHDRAWN:
        return _problem(request, "withdrawn", offer)
    if _is_expired(offer, now):
        if request.method == "POST":
            offers.offer_expire(offer=offer, now=now)  # records the coordinator's alert; safe to repeat
        return _problem(request, "expired", offer)
    return _choose(request, token, offer, now)


def _choose(request: HttpRequest, token: str, offer: Offer, now: datetime) -> HttpResponse:
    options = offers.open_options(offer)
    if not options:
        return _problem(request, "taken", offer)
    tz = settings.DISPLAY_TIME_ZONE
    form = FamilyChoiceForm(request.POST or None, options=options, tz=tz)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            needs = FamilyNeeds(
                attendance=data.get("attendance") or "",
                supporter_name=data["supporter_name"].strip(),
                supporter_relationship=data["supporter_relationship"].strip(),
                interpreter_language=data["interpreter_language"].strip(),
                adjustments=data["adjustments"].strip(),
            )
            try:
                family_confirm(offer=offer, slot_id=data["slot"], needs=needs, now=now)
            except GoneError:
                return _problem(request, "expired", offer)
            except ConflictError as exc:
                offer.refresh_from_db()
                if offer.status == Offer.Status.ACCEPTED:  # the same family, pressing twice
                    return redirect(f"{request.path}?done=booked")
                if offer.status != Offer.Status.OPEN:
                    return _problem(request, "used", offer)
                options = offers.open_options(offer)
                if not options:
                    return _problem(request, "taken", offer)
                still_held = any(s.pk == data["slot"] for s in options)
                form = FamilyChoiceForm(request.POST, options=options, tz=tz)
                form.is_valid()
                form.add_error(
                    None,
                    "Sorry, this time can no longer be booked. Choose another time, or contact us"
                    if still_held
                    else "Sorry, that time has just been taken. Choose another time",
                )
                status = exc.status_code
            except ApplicationError as exc:
                form.add_error("slot", exc.message)
            else:
                return redirect(f"{request.path}?done=booked")
    context = {
        "form": form,
        "options": options,
        "offer": offer,
        "provider": offer.case.provider,
        "any_in_person": any(s.mode == "in_person" for s in options),
    }
    return render(request, "web/family/choose.html", context, status=status)


def _meeting_page(request: HttpRequest, token: str, offer: Offer) -> HttpResponse:
    meeting = offer_meeting(offer)
    if meeting is None:
        return _problem(request, "used", offer)
    context = {
        "token": token,
        "meeting": meeting,
        "provider": offer.case.provider,
        "done": request.GET.get("done", ""),
    }
    return render(request, "web/family/meeting.html", context)


def _confirmed_meeting(token: str) -> tuple[Offer | None, Meeting | None]:
    offer = offers.offer_from_token(token)
    if offer is None or offer.status != Offer.Status.ACCEPTED:
        return offer, None
    meeting = offer_meeting(offer)
    return offer, meeting if meeting is not None and meeting.status == Meeting.Status.CONFIRMED else None


def _not_bookable(request: HttpRequest, token: str, offer: Offer | None) -> HttpResponse:
    if offer is None:
        return _problem(request, "unknown", None)
    if offer.status == Offer.Status.ACCEPTED:
        return _problem(request, "closed", offer)
    return redirect("web:book", token=token)


@require_http_methods(["GET"])
def calendar_file(request: HttpRequest, token: str) -> HttpResponse:
    offer, meeting = _confirmed_meeting(token)
    if meeting is None or offer is None:
        return _not_bookable(request, token, offer)
    body = ics.family_calendar(meeting, now=timezone.now())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="mediation-meeting.ics"'
    return response


@require_http_methods(["GET", "POST"])
def new_time(request: HttpRequest, token: str) -> HttpResponse:
    offer, meeting = _confirmed_meeting(token)
    if meeting is None or offer is None:
        return _not_bookable(request, token, offer)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        family_request_new_time(meeting=meeting, reason=form.cleaned_data["reason"].strip(), now=timezone.now())
        return redirect(f"/book/{token}/?done=new-time")
    context = {"form": form, "meeting": meeting, "token": token, "provider": offer.case.provider}
    return render(request, "web/family/new_time.html", context, status=400 if form.is_bound else 200)


@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, token: str) -> HttpResponse:
    offer, meeting = _confirmed_meeting(token)
    if meeting is None or offer is None:
        return _not_bookable(request, token, offer)
    form = FamilyCancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            family_cancel(meeting=meeting, reason=form.cleaned_data["reason"].strip(), now=timezone.now())
        except ConflictError:
            return _problem(request, "closed", offer)
        return redirect(f"/book/{token}/?done=cancelled")
    context = {"form": form, "meeting": meeting, "token": token, "provider": offer.case.provider}
    return render(request, "web/family/cancel.html", context, status=400 if form.is_bound else 200)
