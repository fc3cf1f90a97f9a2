"""Recording what a mediation came to, the actions agreed, and when each falls due (reg 42 SI 2014/1530)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404

from booking import statutory
from booking.models import AgreedAction, Case, CaseEvent, Meeting, Outcome
from booking.selectors import case_list
from booking.services import _record, case_transition
from booking.states import State, refusal
from core.errors import ConflictError
from core.models import Membership
from core.services import actor_label
from core.tenancy import organisation_ids_for

# An outcome can be recorded once the meeting has been held (or when the family withdrew or did not attend).
RECORDABLE_STATES = (State.SCHEDULED, State.HELD, State.CONCLUDED, State.CERTIFICATE_ISSUED, State.ACTIONS_OPEN)
# Results that mean the meeting went ahead, so the case moves on to "concluded".
MET = (Outcome.Result.FULL, Outcome.Result.PARTIAL, Outcome.Result.NONE)


def outcome_can_record(*, user: Any, case: Case) -> bool:
    """The case's mediator, or a coordinator of the case's provider: the independent side, who also issue its
    certificate. Never the LA, a party to the disagreement, which cannot act as mediator or adviser (s.56)."""
    if user.is_superuser:
        return True
    if case.mediator is not None and case.mediator.user_id == user.pk:
        return True
    return case.provider_id in organisation_ids_for(user, Membership.Role.COORDINATOR)


def action_can_update(*, user: Any, case: Case) -> bool:
    """Whoever records the outcome, and the LA's coordinators, who carry the agreed actions out."""
    return outcome_can_record(user=user, case=case) or case.local_authority_id in organisation_ids_for(
        user, Membership.Role.COORDINATOR
    )


def can_read_private_notes(*, user: Any, case: Case) -> bool:
    """The mediator and the provider's coordinators; never the LA or the ICB."""
    if user.is_superuser:
        return True
    if case.mediator is not None and case.mediator.user_id == user.pk:
        return True
    return case.provider_id in organisation_ids_for(user, Membership.Role.COORDINATOR)


def outcome_get(*, case: Case) -> Outcome:
    outcome = Outcome.objects.filter(case=case).prefetch_related("actions").first()
    if outcome is None:
        raise Http404
    return outcome


def action_due(
    *, agreement_date: date, appealable: bool, reg44_kind: str, icb_tells_la: bool, agreed_in_writing: date | None
) -> statutory.Deadline:
    try:
        return statutory.agreement_action_due(
            agreement_date,
            appealable=appealable,
            reg44_kind=reg44_kind or None,
            icb_tells_la=icb_tells_la,
            agreed_in_writing=agreed_in_writing,
        )
    except ValueError as exc:
        field = "agreed_in_writing" if "agreed_in_writing" in str(exc) else "reg44_kind"
        raise ValidationError({field: [str(exc)]}) from None


def _check_outcome(*, result: str, mediation_date: date, agreement_date: date | None, today: date) -> None:
    errors: dict[str, list[str]] = {}
    if mediation_date > today:
        errors["mediation_date"] = ["This date is in the future."]
    if agreement_date is not None:
        if result not in Outcome.AGREEMENT_RESULTS:
            errors["agreement_date"] = ["Only a full or partial agreement has an agreement date."]
        elif agreement_date < mediation_date:
            errors["agreement_date"] = ["The agreement cannot be dated before the mediation."]
        elif agreement_date > today:
            errors["agreement_date"] = ["This date is in the future."]
    if errors:
        raise ValidationError(errors)


def _mark_meeting_held(case: Case, *, now: datetime) -> Meeting | None:
    meeting = case.meetings.filter(status=Meeting.Status.CONFIRMED, start__lte=now).order_by("-start").first()
    if meeting is not None:
        meeting.status = Meeting.Status.HELD
        meeting.save(update_fields=["status", "updated_at"])
    return meeting


def _withdraw(case: Case, *, actor: Any, when: date, now: datetime, today: date) -> Case:
    """The family withdrew: a meeting still to come is cancelled (by the family) and the case becomes withdrawn."""
    from booking.meetings import meeting_cancel

    for meeting in case.meetings.filter(status=Meeting.Status.CONFIRMED, start__gt=now):
        meeting_cancel(meeting=meeting, actor=actor, cancelled_by="family", reason="family withdrew", now=now)
    case.refresh_from_db()
    if refusal(case, case.state, State.WITHDRAWN) is None:
        case = case_transition(case=case, actor=actor, target=State.WITHDRAWN, on=when, today=today)
    return case


@transaction.atomic
def outcome_record(
    *,
    case: Case,
    actor: Any,
    result: str,
    mediation_date: date | None = None,
    agreement_date: date | None = None,
    la_was_party: bool = True,
    summary: str = "",
    private_notes: str = "",
    actions: list[dict[str, Any]] | None = None,
    now: datetime,
    today: date,
) -> Outcome:
    """Record the outcome (once) with its agreed actions; a held case becomes concluded, starting the certificate
    clock. A scheduled case whose meeting has started is first marked held."""
    from booking.feedback import feedback_request_create

    case = Case.objects.select_for_update().get(pk=case.pk)
    if Outcome.objects.filter(case=case).exists():
        raise ConflictError("The outcome of this case is already recorded.", {"state": case.state})
    if case.state not in RECORDABLE_STATES:
        raise ConflictError(
            f"A case that is {case.get_state_display().lower()} has no mediation to record an outcome for.",
            {"state": case.state},
        )
    when = mediation_date or case.held_on or today
    if agreement_date is None and result in Outcome.AGREEMENT_RESULTS:
        agreement_date = when
    _check_outcome(result=result, mediation_date=when, agreement_date=agreement_date, today=today)
    if actions and result not in Outcome.AGREEMENT_RESULTS:
        raise ValidationError({"actions": ["Actions are agreed only in a full or partial agreement."]})
    meeting = None
    if result in MET:
        meeting = _mark_meeting_held(case, now=now)
        if case.state == State.SCHEDULED:
            case = case_transition(case=case, actor=actor, target=State.HELD, on=when, today=today)
        if case.state == State.HELD:
            case = case_transition(
                case=case, actor=actor, target=State.CONCLUDED, on=when, today=today, reason="outcome recorded"
            )
    elif result == Outcome.Result.WITHDRAWN:
        case = _withdraw(case, actor=actor, when=when, now=now, today=today)
    outcome = Outcome(
        case=case,
        result=result,
        mediation_date=when,
        agreement_date=agreement_date,
        la_was_party=la_was_party,
        summary=summary,
        private_notes=private_notes,
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        recorded_by_label=actor_label(actor),
        recorded_at=now,
    )
    outcome.full_clean()
    outcome.save()
    for index, action in enumerate(actions or []):
        try:
            action_add(outcome=outcome, actor=None, **action)
        except ValidationError as exc:
            raise ValidationError({f"actions.{index}.{k}": v for k, v in exc.message_dict.items()}) from None
    _record(case, CaseEvent.Kind.UPDATED, actor=actor, reason="outcome recorded", details={"outcome": result})
    if result in MET:
        feedback_request_create(case=case, meeting=meeting, now=now)
    return outcome


@transaction.atomic
def action_add(
    *,
    outcome: Outcome,
    actor: Any,
    owner: str,
    description: str,
    appealable: bool,
    reg44_kind: str = "",
    icb_tells_la: bool = False,
    agreed_in_writing: date | None = None,
) -> AgreedAction:
    if outcome.agreement_date is None:
        raise ConflictError("There is no agreement on this case, so no actions were agreed.")
    errors: dict[str, list[str]] = {}
    if appealable and not reg44_kind and not icb_tells_la:
        errors["reg44_kind"] = ["An appealable matter needs the reg 44 kind that sets its time limit."]
    if not appealable and reg44_kind:
        errors["reg44_kind"] = ["Only an appealable matter follows the reg 44 time limits."]
    if icb_tells_la and (owner != AgreedAction.Owner.ICB or outcome.la_was_party):
        errors["icb_tells_la"] = ["Only the ICB tells the LA, and only when the LA was not a party."]
    if errors:
        raise ValidationError(errors)
    deadline = action_due(
        agreement_date=outcome.agreement_date,
        appealable=appealable,
        reg44_kind=reg44_kind,
        icb_tells_la=icb_tells_la,
        agreed_in_writing=agreed_in_writing,
    )
    action = AgreedAction(
        outcome=outcome,
        owner=owner,
        description=description,
        appealable=appealable,
        reg44_kind=reg44_kind if appealable else "",
        icb_tells_la=icb_tells_la,
        agreed_in_writing=agreed_in_writing,
        due=deadline.due,
        rule=deadline.rule,
        rule_version=deadline.version,
    )
    action.full_clean()
    action.save()
    if actor is not None:
        _record(outcome.case, CaseEvent.Kind.UPDATED, actor=actor, details={"action_added": action.pk})
    return action


@transaction.atomic
def action_mark_done(*, action: AgreedAction, actor: Any, done_on: date | None, today: date) -> AgreedAction:
    if done_on is not None and done_on > today:
        raise ValidationError({"done_on": ["This date is in the future."]})
    if done_on is not None and action.outcome.agreement_date and done_on < action.outcome.agreement_date:
        raise ValidationError({"done_on": ["This date is before the agreement."]})
    if action.done_on == done_on:
        return action
    action.done_on = done_on
    action.save(update_fields=["done_on"])
    _record(
        action.outcome.case,
        CaseEvent.Kind.UPDATED,
        actor=actor,
        details={"action_done" if done_on else "action_reopened": action.pk},
    )
    return action


def action_is_overdue(action: AgreedAction, *, today: date) -> bool:
    return action.done_on is None and action.due < today


def action_list_overdue(*, user: Any, today: date) -> QuerySet[AgreedAction]:
    """Open actions past their due date on the cases the user may see."""
    return (
        AgreedAction.objects.filter(
            outcome__case__in=case_list(user=user).values("pk"), done_on__isnull=True, due__lt=today
        )
        .select_related("outcome__case")
        .order_by("due", "id")
    )


def action_get(*, user: Any, action_id: int) -> AgreedAction:
    action = (
        AgreedAction.objects.filter(pk=action_id, outcome__case__in=case_list(user=user).values("pk"))
        .select_related("outcome__case__mediator")
        .first()
    )
    if action is None:
        raise Http404
    return action
