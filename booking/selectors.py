"""Reads for cases and participants. Every read is scoped to what the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from booking.models import Case, CaseEvent, Participant
from core.models import Membership
from core.tenancy import memberships, organisation_ids_for

Role = Membership.Role


def _roles(user: Any) -> tuple[set[int], set[int]]:
    """The organisations the user coordinates for, and those they represent health for."""
    coordinating: set[int] = set()
    health: set[int] = set()
    for organisation_id, role in memberships(user):
        if role == Role.COORDINATOR:
            coordinating.add(organisation_id)
        elif role == Role.HEALTH_REPRESENTATIVE:
            health.add(organisation_id)
    return coordinating, health


def _visible_q(user: Any) -> Q | None:
    """None means everything (superusers); an empty Q-match means nothing. `case_visible` is the same rule for one
    case already read."""
    if user.is_superuser:
        return None
    coordinating, health = _roles(user)
    return (
        Q(provider_id__in=coordinating)
        | Q(local_authority_id__in=coordinating)
        | Q(icbs__in=health, health_involved=True)
        | Q(mediator__user_id=user.pk)
    )


def case_visible(*, user: Any, case: Case) -> bool:
    """May the user see this case? Coordinators of its provider or LA, health representatives of one of its ICBs
    when health is involved, and its mediator."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    coordinating, health = _roles(user)
    if case.provider_id in coordinating or case.local_authority_id in coordinating:
        return True
    if case.mediator_id is not None and case.mediator.user_id == user.pk:
        return True
    return bool(health) and case.health_involved and case.icbs.filter(pk__in=health).exists()


def case_list(*, user: Any, filters: dict[str, Any] | None = None) -> QuerySet[Case]:
    if not user.is_authenticated:
        return Case.objects.none()
    qs = Case.objects.all()
    visible = _visible_q(user)
    if visible is not None:
        qs = qs.filter(pk__in=Case.objects.filter(visible).values("pk"))
    filters = filters or {}
    if filters.get("state"):
        qs = qs.filter(state=filters["state"])
    if filters.get("local_authority"):
        qs = qs.filter(local_authority_id=filters["local_authority"])
    if filters.get("mediation_due_before"):
        qs = qs.filter(mediation_due__lte=filters["mediation_due_before"])
    return qs.select_related("provider", "local_authority", "mediator").prefetch_related("icbs")


def case_get(*, user: Any, case_id: int, related: bool = True) -> Case:
    """The case, if the user may see it; otherwise 404, whether or not it exists. Read by its key alone and checked
    here (`case_visible`), which is cheaper for the database than the list's visibility query. `related=False`: the
    provider, LA and mediator are not read with it (a caller that needs only the case's own fields)."""
    qs = Case.objects.select_related("provider", "local_authority", "mediator") if related else Case.objects.all()
    try:
        case = qs.get(pk=case_id)
    except Case.DoesNotExist:
        raise Http404 from None
    if not case_visible(user=user, case=case):
        raise Http404
    return case


def case_can_edit(*, user: Any, case: Case) -> bool:
    if user.is_superuser:
        return True
    coordinating = organisation_ids_for(user, Role.COORDINATOR)
    return case.provider_id in coordinating or case.local_authority_id in coordinating


def case_events(*, case: Case) -> QuerySet[CaseEvent]:
    return case.events.select_related("actor").all()


def participant_list(*, case: Case) -> QuerySet[Participant]:
    return case.participants.all()


def participant_get(*, case: Case, participant_id: int) -> Participant:
    participant = case.participants.filter(pk=participant_id).first()
    if participant is None:
        raise Http404
    return participant
