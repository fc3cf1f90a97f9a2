"""The coordinator's pages: the dashboard of cases with their statutory countdowns, and a case with everything
needed to arrange its meeting. Tenancy is booking.selectors.case_get's: another tenant's case is a 404."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from booking import meetings, offers, selectors, services
from booking.meetings import local_day
from booking.models import Case
from booking.states import SCHEDULABLE_STATES, STATE_LABELS, State, next_states
from core.clock import local_today
from core.errors import ApplicationError
from core.phones import InvalidPhoneNumberError, to_e164
from scheduling.matching import match_reasons, mediator_matches
from scheduling.search import SlotQuery, case_slot_search
from web import selectors as pages
from web import text
from web.forms import (
    AssignForm,
    MoveForm,
    OfferForm,
    PersonForm,
    RescheduleForm,
    ShortNoticeForm,
    SlotSearchForm,
    StaffCancelForm,
    slot_value,
)
from web.views.pages import LOGIN_URL

SESSION_LINKS = "offer_links"


@login_required(login_url=LOGIN_URL)
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    today = local_today()
    state = request.GET.get("state", "")
    if state and state not in STATE_LABELS:
        state = ""
    rows = pages.dashboard_rows(user=request.user, today=today, state=state)
    context = {
        "rows": rows,
        "at_risk": sum(1 for r in rows if r.risks),
        "counts": pages.state_counts(user=request.user),
        "state": state,
        "today": today,
    }
    return render(request, "web/staff/dashboard.html", context)


def _plain_reasons(match: Any) -> list[str]:
    """match_reasons, with the earliest time written for people rather than as ISO 8601."""
    earliest = "earliest time everyone can meet: "
    return [
        (earliest + text.when(match.earliest.start, match.earliest.end, settings.DISPLAY_TIME_ZONE))
        if reason.startswith(earliest) and match.earliest
        else reason
        for reason in match_reasons(match)
    ]


def _case_page(request: HttpRequest, case: Case, *, status: int = 200, **forms: Any) -> HttpResponse:
    now = timezone.now()
    today = local_today(now)
    can_edit = selectors.case_can_edit(user=request.user, case=case)
    meeting = pages.current_meeting(case)
    offer = pages.current_offer(case)
    matches = []
    if case.state in SCHEDULABLE_STATES and meeting is None:
        matches = [(m, _plain_reasons(m)) for m in mediator_matches(case=case, now=now, today=today)]
    context = {
        "case": case,
        "today": today,
        "mediation_clock": case.state in pages.MEDIATION_CLOCK_STATES,
        "can_edit": can_edit,
        "participants": case.participants.all(),
        "matches": matches,
        "meeting": meeting,
        "attendees": pages.meeting_attendees(meeting) if meeting else [],
        "offer": offer,
        "offer_options": offer.slots.select_related("room__venue", "mediator") if offer else [],
        "offer_link": request.session.get(SESSION_LINKS, {}).get(str(offer.pk)) if offer else None,
        "outbox": pages.case_messages(case),
        "history": pages.case_history(case),
        "schedulable": case.state in SCHEDULABLE_STATES,
        "reschedule_form": forms.get("reschedule_form") or RescheduleForm(),
        "cancel_form": forms.get("cancel_form") or StaffCancelForm(),
        "move_form": forms.get("move_form") or MoveForm(targets=_targets(case)),
        "person_form": forms.get("person_form") or PersonForm(),
        "short_notice_form": ShortNoticeForm(initial={"consent": case.short_notice_consent}),
        "form": forms.get("reschedule_form")
        or forms.get("cancel_form")
        or forms.get("assign_form")
        or forms.get("move_form")
        or forms.get("person_form"),
        "service_error": forms.get("service_error"),
    }
    return render(request, "web/staff/case.html", context, status=status)


@login_required(login_url=LOGIN_URL)
@require_GET
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    return _case_page(request, selectors.case_get(user=request.user, case_id=case_id))


def _editable_case(request: HttpRequest, case_id: int) -> Case:
    case = selectors.case_get(user=request.user, case_id=case_id)
    services.case_assert_editable(user=request.user, case=case)
    return case


@login_required(login_url=LOGIN_URL)
@require_POST
def assign(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _editable_case(request, case_id)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return _case_page(request, case, status=400, service_error="Choose a mediator")
    now = timezone.now()
    found = {m.mediator.pk: m for m in mediator_matches(case=case, now=now, today=local_today(now))}
    match = found.get(form.cleaned_data["mediator"])
    if match is None:  # not a mediator of this case's provider: bad input, as the API answers
        return _case_page(request, case, status=400, service_error="Choose a mediator of this case's provider")
    if not match.eligible:
        return _case_page(request, case, status=409, service_error="This mediator cannot take this case")
    try:
        services.case_assign_mediator(case=case, mediator=match.mediator, actor=request.user)
    except ApplicationError as exc:
        return _case_page(request, case, status=exc.status_code, service_error=exc.message)
    messages.success(request, f"{match.mediator.name} is now the mediator for this case")
    return redirect("web:case", case_id=case.pk)


def _slot_page(request: HttpRequest, case: Case, search: SlotSearchForm, *, offer_form: OfferForm | None = None,
               error: str = "", status: int = 200) -> HttpResponse:  # fmt: skip
    now = timezone.now()
    valid = search.is_valid()
    allow_late = case.state == State.NOT_ARRANGED_30_DAYS or (valid and search.cleaned_data.get("allow_late"))
    query = SlotQuery(
        duration=search.duration_delta() if valid else timedelta(hours=3),
        mode=(search.cleaned_data.get("mode") or None) if valid else None,
        limit=200,
        allow_late=bool(allow_late),
    )
    result = case_slot_search(case=case, query=query, now=now)
    rows = [
        (slot_value(s.start, s.end, s.mediator_id, s.room_id, s.mode), s, result.mediators[s.mediator_id],
         result.rooms.get(s.room_id) if s.room_id else None)
        for s in _spread(result.slots)
    ]  # fmt: skip
    context = {
        "case": case,
        "search": search,
        "rows": rows,
        "form": offer_form,
        "service_error": error,
        "none_before_due": case.mediation_due is not None and not any(not s.late for s in result.slots),
        "can_edit": selectors.case_can_edit(user=request.user, case=case),
        "tz": settings.DISPLAY_TIME_ZONE,
    }
    return render(request, "web/staff/slots.html", context, status=status)


def _spread(slots: list[Any], *, total: int = 20, per_day: int = 3, apart: timedelta = timedelta(hours=2)) -> list[Any]:
    """The times to list, earliest first: at most `per_day` a day, each mediator's at least `apart`, so the list
    reaches across days instead of naming one morning in 15-minute steps."""
    picked: list[Any] = []
    for slot in slots:
        day = local_day(slot.start)
        same_day = [p for p in picked if local_day(p.start) == day]
        if len(same_day) >= per_day:
            continue
        if any(p.mediator_id == slot.mediator_id and abs(p.start - slot.start) < apart for p in same_day):
            continue
        picked.append(slot)
        if len(picked) == total:
            break
    return picked


@login_required(login_url=LOGIN_URL)
@require_GET
def slots(request: HttpRequest, case_id: int) -> HttpResponse:
    case = selectors.case_get(user=request.user, case_id=case_id)
    search = SlotSearchForm(request.GET or None)
    # Bad filters are shown with their message over the default search, and answered as the bad input they are.
    return _slot_page(request, case, search, status=400 if search.is_bound and not search.is_valid() else 200)


@login_required(login_url=LOGIN_URL)
@require_POST
def offer(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _editable_case(request, case_id)
    form = OfferForm(request.POST)
    search = SlotSearchForm(request.POST)
    if not form.is_valid():
        return _slot_page(request, case, search, offer_form=form, status=400)
    try:
        created, token = offers.offer_create(
            case=case,
            actor=request.user,
            now=timezone.now(),
            choices=form.choices() or None,
            count=form.cleaned_data.get("best") or 3,
            allow_late=search.is_valid() and bool(search.cleaned_data.get("allow_late")),
        )
    except ApplicationError as exc:
        return _slot_page(request, case, search, offer_form=form, error=exc.message, status=exc.status_code)
    links = request.session.get(SESSION_LINKS, {})
    links[str(created.pk)] = f"{settings.SITE_URL}/book/{token}/"
    request.session[SESSION_LINKS] = links
    messages.success(request, f"{created.slots.count()} times offered to the family")
    return redirect("web:case", case_id=case.pk)


def _meeting_or_404(case: Case) -> Any:
    meeting = pages.current_meeting(case)
    if meeting is None:
        raise Http404
    return meeting


@login_required(login_url=LOGIN_URL)
@require_POST
def reschedule(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _editable_case(request, case_id)
    meeting = _meeting_or_404(case)
    form = RescheduleForm(request.POST)
    if not form.is_valid():
        return _case_page(request, case, status=400, reschedule_form=form)
    start, end = form.new_times(meeting)
    try:
        meetings.meeting_reschedule(
            meeting=meeting, actor=request.user, start=start, end=end, room=meeting.room, mode=meeting.mode,
            now=timezone.now(),
        )  # fmt: skip
    except ApplicationError as exc:
        form.add_error("day", exc.message)
        return _case_page(request, case, status=exc.status_code, reschedule_form=form)
    messages.success(request, "Meeting moved")
    return redirect("web:case", case_id=case.pk)


@login_required(login_url=LOGIN_URL)
@require_POST
def cancel(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _editable_case(request, case_id)
    meeting = _meeting_or_404(case)
    form = StaffCancelForm(request.POST)
    if not form.is_valid():
        return _case_page(request, case, status=400, cancel_form=form)
    try:
        meetings.meeting_cancel(meeting=meeting, actor=request.user, now=timezone.now(), **form.cleaned_data)
    except ApplicationError as exc:
        return _case_page(request, case, status=exc.status_code, service_error=exc.message)
    messages.success(request, "Meeting cancelled")
    return redirect("web:case", case_id=case.pk)


def _targets(case: Case) -> list[tuple[str, str]]:
    """The moves to offer by hand. "Held" only once the meeting has begun."""
    targets = next_states(case, case.state)
    if State.HELD in targets:
        meeting = pages.current_meeting(case)
        if meeting is None or meeting.start > timezone.now():
            targets.remove(State.HELD)
    return [(state, STATE_LABELS[state]) for state in targets]


@login_required(login_url=LOGIN_URL)
@require_POST
def move(request: HttpRequest, case_id: int) -> HttpResponse:
    """Move the case on by hand: recording that 30 days cannot be met, a withdrawal, the issues captured, and so on."""
    case = _editable_case(request, case_id)
    form = MoveForm(request.POST, targets=_targets(case))
    if not form.is_valid():
        return _case_page(request, case, status=400, move_form=form)
    target = form.cleaned_data["to"]
    try:
        services.case_transition(
            case=case, actor=request.user, target=target, today=local_today(), reason=form.cleaned_data["reason"]
        )
    except ApplicationError as exc:
        return _case_page(request, case, status=exc.status_code, service_error=exc.message)
    messages.success(request, f"The case is now {STATE_LABELS[target].lower()}")
    return redirect("web:case", case_id=case.pk)


@login_required(login_url=LOGIN_URL)
@require_POST
def short_notice(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _editable_case(request, case_id)
    form = ShortNoticeForm(request.POST)
    form.is_valid()  # a checkbox: absent means no
    consent = bool(form.cleaned_data.get("consent"))
    try:
        services.case_update(case=case, actor=request.user, today=local_today(), short_notice_consent=consent)
    except DjangoValidationError as exc:  # another of the case's dates needs correcting first
        return _case_page(request, case, status=400, service_error=" ".join(exc.messages))
    messages.success(
        request, "Shorter notice is recorded as agreed" if consent else "The usual 5 working days’ notice applies"
    )
    return redirect("web:case", case_id=case.pk)


@login_required(login_url=LOGIN_URL)
@require_POST
def person_add(request: HttpRequest, case_id: int) -> HttpResponse:
    """Add someone to the case (the API's participant service): invited at once if a meeting is booked."""
    case = _editable_case(request, case_id)
    form = PersonForm(request.POST)
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v}
        if data.get("mobile"):
            try:
                data["mobile"] = to_e164(data["mobile"])
            except InvalidPhoneNumberError as exc:
                form.add_error("mobile", str(exc))
        if form.is_valid():
            data["preferred_channels"] = ["email"] * bool(data.get("email")) + ["sms"] * bool(data.get("mobile"))
            try:
                services.participant_create(case=case, actor=request.user, **data)
            except DjangoValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, f"{data['name']} added")
                return redirect("web:case", case_id=case.pk)
    return _case_page(request, case, status=400, person_form=form)


@login_required(login_url=LOGIN_URL)
@require_POST
def person_remove(request: HttpRequest, case_id: int, participant_id: int) -> HttpResponse:
    case = _editable_case(request, case_id)
    participant = case.participants.filter(pk=participant_id).first()
    if participant is None:
        raise Http404
    services.participant_delete(participant=participant, actor=request.user)
    messages.success(request, f"{participant.name} removed")
    return redirect("web:case", case_id=case.pk)
