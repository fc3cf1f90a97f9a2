"""Writes for cases: create, update, move through the state machine, keep the statutory deadlines current."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from booking import statutory
from booking.models import Case, CaseEvent, Meeting, Participant
from booking.selectors import case_can_edit
from booking.states import CERTIFICATE_TRIGGERS, STATE_LABELS, State, refusal
from core.errors import ConflictError
from core.models import Membership, Organisation
from core.services import actor_label, model_update
from core.tenancy import organisation_ids_for
from notifications import services as notifications

CASE_FIELDS = [
    "route", "decision", "issues", "health_provision_sought", "placement_only", "health_involved",
    "social_care_involved", "child_name", "child_date_of_birth", "school_name", "needs_language",
    "interpreter_arranged", "short_notice_consent", "decision_sent", "adviser_contacted", "family_requested",
    "la_notified", "icb_informed",
]  # fmt: skip
CLOCK_DATES = ["decision_sent", "adviser_contacted", "family_requested", "la_notified", "icb_informed"]
# Pairs (earlier, later) that must be in order when both are known.
DATE_ORDER = [
    ("decision_sent", "adviser_contacted"),
    ("decision_sent", "family_requested"),
    ("decision_sent", "la_notified"),
    ("la_notified", "icb_informed"),
]
DEADLINE_FIELDS = {
    "contact": "contact_deadline",
    "icb_notice": "icb_notice_due",
    "mediation": "mediation_due",
    "certificate": "certificate_due",
    "appeal": "appeal_deadline",
}


SEND_REGULATIONS_IN_FORCE = date(2014, 9, 1)  # SI 2014/1530: no case's clock can start before


def _check_dates(values: dict[str, Any], *, today: date) -> None:
    errors: dict[str, list[str]] = {}
    for name in CLOCK_DATES:
        value = values.get(name)
        if value is not None and value > today:
            errors.setdefault(name, []).append("This date is in the future; record it once it has happened.")
        elif value is not None and value < SEND_REGULATIONS_IN_FORCE:
            errors.setdefault(name, []).append(
                "This date is before 1 September 2014, when the mediation duties of the Children and Families Act "
                "2014 began."
            )
    for earlier, later in DATE_ORDER:
        a, b = values.get(earlier), values.get(later)
        if a is not None and b is not None and b < a:
            errors.setdefault(later, []).append(f"This date is before {earlier.replace('_', ' ')} ({a.isoformat()}).")
    dob = values.get("child_date_of_birth")
    if dob is not None and dob > today:
        errors.setdefault("child_date_of_birth", []).append("The date of birth is in the future.")
    route = values.get("route")
    if route in (Case.Route.JOINT_HEALTH, Case.Route.HEALTH_ONLY) and not values.get("health_involved"):
        errors.setdefault("health_involved", []).append("A health route needs health_involved to be true.")
    if route == Case.Route.EDUCATION_SOCIAL_CARE and values.get("health_involved"):
        errors.setdefault("route", []).append("Health is involved: choose the joint or health-only route.")
    if errors:
        raise ValidationError(errors)


def _check_organisations(
    *, user: Any, provider: Organisation, local_authority: Organisation, icbs: list[Organisation]
) -> None:
    errors: dict[str, list[str]] = {}
    coordinating = organisation_ids_for(user, Membership.Role.COORDINATOR)
    if not user.is_superuser and provider.pk not in coordinating and local_authority.pk not in coordinating:
        errors["provider"] = ["Choose a provider or local authority you coordinate for."]
    if provider.kind != Organisation.Kind.PROVIDER:
        errors.setdefault("provider", []).append("This organisation is not a mediation provider.")
    if local_authority.kind != Organisation.Kind.LOCAL_AUTHORITY:
        errors.setdefault("local_authority", []).append("This organisation is not a local authority.")
    elif not provider.served_authorities.filter(pk=local_authority.pk).exists():
        errors.setdefault("local_authority", []).append("This provider does not serve that local authority.")
    if any(icb.kind != Organisation.Kind.ICB for icb in icbs):
        errors.setdefault("icbs", []).append("Each of these must be an integrated care board.")
    elif icbs and not {icb.pk for icb in icbs} <= set(local_authority.partner_icbs.values_list("pk", flat=True)):
        # The case goes to the health reps of every ICB named here: only the LA's partners may be.
        errors.setdefault("icbs", []).append(
            "Each of these must be an integrated care board the local authority works with."
        )
    if errors:
        raise ValidationError(errors)


def case_facts(case: Case) -> statutory.CaseFacts:
    return statutory.CaseFacts(
        decision_sent=case.decision_sent,
        adviser_contacted=case.adviser_contacted,
        la_notified=case.la_notified,
        family_requested=case.family_requested,
        icb_informed=case.icb_informed,
        health_involved=case.health_involved,
        health_only=case.route == Case.Route.HEALTH_ONLY,
        placement_only=case.placement_only or case.route == Case.Route.DISAGREEMENT_RESOLUTION,
        certificate_trigger=case.certificate_trigger or None,
        certificate_trigger_date=case.certificate_trigger_date,
        certificate_issued=case.certificate_issued_on,
    )


def case_recompute_deadlines(*, case: Case) -> list[str]:
    """Store every deadline the facts allow, with the rule that produced it. Returns the changed field names."""
    deadlines = statutory.case_deadlines(case_facts(case))
    changed = []
    for kind, field in DEADLINE_FIELDS.items():
        due = deadlines[kind].due if kind in deadlines else None
        if getattr(case, field) != due:
            setattr(case, field, due)
            changed.append(field)
    rules = {kind: {"rule": d.rule, "version": d.version} for kind, d in deadlines.items()}
    if rules != case.deadline_rules:
        case.deadline_rules = rules
        changed.append("deadline_rules")
    return changed


def _event(case: Case, kind: str, *, actor: Any, reason: str = "", **extra: Any) -> CaseEvent:
    """A history entry, not yet saved."""
    return CaseEvent(
        case=case,
        kind=kind,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=actor_label(actor),
        reason=reason,
        at=timezone.now(),
        **extra,
    )


def _record(case: Case, kind: str, *, actor: Any, reason: str = "", **extra: Any) -> CaseEvent:
    event = _event(case, kind, actor=actor, reason=reason, **extra)
    event.save()
    return event


@transaction.atomic
def case_create(
    *,
    actor: Any,
    provider: Organisation,
    local_authority: Organisation,
    icbs: list[Organisation] | None = None,
    state: str = State.ADVICE_REQUESTED,
    today: date,
    **fields: Any,
) -> Case:
    icbs = icbs or []
    _check_organisations(user=actor, provider=provider, local_authority=local_authority, icbs=icbs)
    _check_dates(fields, today=today)
    if state not in (State.ADVICE_REQUESTED, State.MEDIATION_REQUESTED):
        raise ValidationError({"state": ["A new case starts as advice_requested or mediation_requested."]})
    if state == State.MEDIATION_REQUESTED and fields.get("la_notified") is None:
        fields["la_notified"] = today
    case = Case(
        provider=provider,
        local_authority=local_authority,
        state=state,
        reference=f"new-{uuid.uuid4().hex[:24]}",
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        **{k: v for k, v in fields.items() if k in CASE_FIELDS},
    )
    case_recompute_deadlines(case=case)
    case.full_clean()
    case.save()
    case.reference = f"MED-{today.year}-{case.pk:05d}"
    case.save(update_fields=["reference"])
    case.icbs.set(icbs)
    _record(case, CaseEvent.Kind.CREATED, actor=actor, to_state=state)
    return case


@transaction.atomic
def case_update(*, case: Case, actor: Any, today: date, icbs: list[Organisation] | None = None, **data: Any) -> Case:
    case = Case.objects.select_for_update().get(pk=case.pk)
    merged = {name: data.get(name, getattr(case, name)) for name in CASE_FIELDS}
    _check_dates(merged, today=today)
    if icbs is not None:
        _check_organisations(user=actor, provider=case.provider, local_authority=case.local_authority, icbs=icbs)
    before = {name: getattr(case, name) for name in data if name in CASE_FIELDS}
    model_update(instance=case, fields=CASE_FIELDS, data=data)
    deadline_changes = case_recompute_deadlines(case=case)
    if deadline_changes:
        case.save(update_fields=[*deadline_changes, "updated_at"])
    changed = {
        k: None if k in Case.PERSONAL_FIELDS else [_jsonable(v), _jsonable(getattr(case, k))]
        for k, v in before.items()
        if v != getattr(case, k)
    }
    if icbs is not None and set(case.icbs.all()) != set(icbs):
        case.icbs.set(icbs)
        changed["icbs"] = [None, sorted(i.pk for i in icbs)]
    if changed:
        _record(case, CaseEvent.Kind.UPDATED, actor=actor, details={"changed": changed})
    return case


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


_DATE_EFFECTS = {
    State.MEDIATION_REQUESTED: "la_notified",
    State.ICB_NOTIFIED: "icb_informed",
    State.HELD: "held_on",
    State.CERTIFICATE_ISSUED: "certificate_issued_on",
}


_RELATED_FIELDS = [f.name for f in Case._meta.get_fields() if f.is_relation and f.concrete]


def case_transition(
    *,
    case: Case,
    actor: Any,
    target: str,
    reason: str = "",
    on: date | None = None,
    today: date,
    system: bool = False,
    locked: bool = False,
    via: Sequence[str] = (),
) -> Case:
    """Move the case to `target`, or raise ConflictError saying why not. The move is recorded in the history.

    `via`: states to pass through first, each move checked and recorded as if made on its own (a booking takes a
    case that was not yet scheduling through scheduling to scheduled), with one write of the case.

    `locked`: the caller holds the case's row lock in this transaction and passes the row as it read it then (with
    any field it has changed since, which this save writes too), so it is not read again, and the writes join the
    caller's transaction."""
    move = {"actor": actor, "target": target, "reason": reason, "on": on, "today": today, "system": system, "via": via}
    if locked:
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("case_transition(locked=True) must run inside the transaction that holds the lock")
        return _case_move(case, **move)
    with transaction.atomic():
        return _case_move(Case.objects.select_for_update().get(pk=case.pk), **move)


def _case_move(
    case: Case,
    *,
    actor: Any,
    target: str,
    reason: str,
    on: date | None,
    today: date,
    system: bool,
    via: Sequence[str],
) -> Case:
    """Every check comes before the first write, so a refused move leaves the transaction as it was (and the case:
    what earlier steps changed on it is put back)."""
    when = on or today
    if target in (State.WITHDRAWN, State.CLOSED) and case.meetings.filter(status=Meeting.Status.CONFIRMED).exists():
        raise ConflictError(
            "This case has a confirmed meeting: cancel it first (who cancelled and why are kept for the reports).",
            {"state": case.state, "requested": target},
        )
    events = []
    before = {f.attname: getattr(case, f.attname) for f in Case._meta.concrete_fields}
    for step in [*via, target]:
        source = case.state
        why_not = refusal(case, source, step, system=system)
        if why_not or when > today:
            for name, value in before.items():
                setattr(case, name, value)
        if why_not:
            raise ConflictError(why_not, {"state": source, "requested": step})
        if when > today:
            raise ValidationError({"on": ["This date is in the future."]})
        date_field = _DATE_EFFECTS.get(step)
        if date_field and getattr(case, date_field) is None:
            setattr(case, date_field, when)
        if step in CERTIFICATE_TRIGGERS:
            case.certificate_trigger = CERTIFICATE_TRIGGERS[step]
            case.certificate_trigger_date = when
        case.state = step
        case_recompute_deadlines(case=case)
        events.append(
            _event(
                case,
                CaseEvent.Kind.TRANSITION,
                actor=actor,
                reason=reason if step == target else "",
                from_state=source,
                to_state=step,
                details={"label": STATE_LABELS[step], "on": when.isoformat()},
            )
        )
    # A move changes the state and dates only. The related rows, the unique reference and the table's constraints
    # (route and health) are as stored, so they are not checked again (each check is a query); the database holds
    # those rules anyway.
    case.full_clean(exclude=_RELATED_FIELDS, validate_unique=False, validate_constraints=False)
    case.save()
    CaseEvent.objects.bulk_create(events)
    return case


def case_assert_editable(*, user: Any, case: Case) -> None:
    from django.core.exceptions import PermissionDenied

    if not case_can_edit(user=user, case=case):
        raise PermissionDenied


PARTICIPANT_FIELDS = [
    "role", "required", "name", "email", "mobile", "preferred_channels", "language", "decision_authority",
    "step_free_access", "hearing_loop", "bsl_interpreter", "interpreter_language", "access_notes", "timezone",
    "relationship",
]  # fmt: skip


def _check_participant(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    channels = values.get("preferred_channels") or []
    if "email" in channels and not values.get("email"):
        errors["email"] = ["Email is a preferred channel, so an email address is needed."]
    if "sms" in channels and not values.get("mobile"):
        errors["mobile"] = ["SMS is a preferred channel, so a mobile number is needed."]
    if values.get("decision_authority") and values.get("role") not in ("la_officer", "health_representative"):
        errors["decision_authority"] = ["Only LA officers and health representatives hold decision authority."]
    if errors:
        raise ValidationError(errors)


def _lock_case(case_id: int) -> None:
    """The case's row lock, first, as every change to a case's bookings takes it: a person joining or leaving waits
    for a booking or a move in progress, then finds its meeting (booking.meetings.case_lock)."""
    Case.objects.select_for_update(of=("self",)).filter(pk=case_id).values_list("pk", flat=True).first()


@transaction.atomic
def participant_create(*, case: Case, actor: Any, **data: Any) -> Participant:
    _lock_case(case.pk)
    if "required" not in data:
        data["required"] = data.get("role") not in Participant.OPTIONAL_BY_DEFAULT
    _check_participant(data)
    participant = Participant(case=case, **{k: v for k, v in data.items() if k in PARTICIPANT_FIELDS})
    participant.full_clean()
    participant.save()
    _record(case, CaseEvent.Kind.UPDATED, actor=actor, details={"participant_added": participant.pk})
    _attendees_changed(case)
    return participant


def _attendees_changed(case: Case) -> None:
    """Whoever joins or leaves a case with a confirmed meeting is invited to it, or uninvited, at once."""
    meeting = case.meetings.select_for_update().filter(status=Meeting.Status.CONFIRMED).first()  # after the case's
    if meeting is not None:
        notifications.meeting_attendees_changed(meeting, now=timezone.now())


@transaction.atomic
def participant_update(*, participant: Participant, actor: Any, **data: Any) -> Participant:
    _lock_case(participant.case_id)
    merged = {name: data.get(name, getattr(participant, name)) for name in PARTICIPANT_FIELDS}
    _check_participant(merged)
    _, changed = model_update(instance=participant, fields=PARTICIPANT_FIELDS, data=data)
    if changed:
        _record(
            participant.case,
            CaseEvent.Kind.UPDATED,
            actor=actor,
            details={"participant_changed": participant.pk},
        )
    return participant


@transaction.atomic
def participant_delete(*, participant: Participant, actor: Any) -> None:
    _lock_case(participant.case_id)
    case, pk = participant.case, participant.pk
    participant.delete()
    _record(case, CaseEvent.Kind.UPDATED, actor=actor, details={"participant_removed": pk})
    _attendees_changed(case)


@transaction.atomic
def case_assign_mediator(*, case: Case, mediator: Any, actor: Any, reason: str = "") -> Case:
    case = Case.objects.select_for_update().get(pk=case.pk)
    previous = case.mediator_id
    if previous != mediator.pk:
        # The meeting, its invitations and reminders, and an open offer's holds belong to one mediator: moving the
        # case alone would leave them with the old one (who would go on being sent the family's details).
        if case.meetings.filter(status=Meeting.Status.CONFIRMED).exists():
            raise ConflictError(
                "This case has a confirmed meeting with its mediator. Cancel the meeting first, then assign the new "
                "mediator and offer new times."
            )
        if case.offers.filter(status="open").exclude(slots__mediator=mediator).exists():
            raise ConflictError(
                "This case has an open offer of times with another mediator. Make a new offer with the new mediator "
                "instead (it replaces the open one)."
            )
    case.mediator = mediator
    case.save(update_fields=["mediator", "updated_at"])
    _record(
        case,
        CaseEvent.Kind.MEDIATOR_ASSIGNED,
        actor=actor,
        reason=reason,
        details={"from": previous, "to": mediator.pk},
    )
    return case
