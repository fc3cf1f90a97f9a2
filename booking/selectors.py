"""Reads for cases and participants. Every read is scoped to what the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from booking.models import Case, CaseEvent, Participant
from core.models import Membership
from core.tenancy import organisation_ids_for

Role = Membership.Role


def _visible_q(user: Any) -> Q | None:
    """None means everything (superusers); an empty Q-match means nothing."""
    if user.is_superuser:
        return None
    coordinating: set[int] = set()
    health: set[int] = set()
    roles = Membership.objects.filter(user=user, role__in=[Role.COORDINATOR, Role.HEALTH_REPRESENTATIVE])
    for organisation_id, role in roles.values_list("organisation_id", "role"):
        (coordinating if role == Role.COORDINATOR else health).add(organisation_id)
    return (
        Q(provider_id__in=coordinating)
        | Q(local_authority_id__in=coordinating)
        | Q(icbs__in=health, health_involved=True)
        | Q(mediator__user_id=user.pk)
    )


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


def case_get(*, user: Any, case_id: int) -> Case:
    case = case_list(user=user).filter(pk=case_id).first()
    if case is None:
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
