"""Reads for mediators and venues, scoped to the organisations a user works with."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from core.models import Membership, Organisation
from core.tenancy import organisation_ids_for
from scheduling.models import Mediator, Venue


def _working_with(user: Any) -> set[int]:
    """Own organisations plus their partners (the provider's LAs, the LA's providers). A commissioner's role is
    aggregates only: it brings no mediators or venues."""
    own = organisation_ids_for(user, Membership.Role.COORDINATOR, Membership.Role.MEDIATOR,
                               Membership.Role.HEALTH_REPRESENTATIVE)  # fmt: skip
    partners = set(
        Organisation.objects.filter(Q(providers__in=own) | Q(served_authorities__in=own)).values_list("id", flat=True)
    )
    return own | partners


def mediator_list(*, user: Any) -> QuerySet[Mediator]:
    qs = Mediator.objects.all()
    if not user.is_superuser:
        qs = qs.filter(Q(provider_id__in=_working_with(user)) | Q(user_id=user.pk))
    return qs.prefetch_related("areas", "employers", "conflicts")


def mediator_get(*, user: Any, mediator_id: int) -> Mediator:
    mediator = mediator_list(user=user).filter(pk=mediator_id).first()
    if mediator is None:
        raise Http404
    return mediator


def mediator_can_edit(*, user: Any, mediator: Mediator) -> bool:
    return user.is_superuser or mediator.provider_id in organisation_ids_for(user, Membership.Role.COORDINATOR)


def venue_list(*, user: Any) -> QuerySet[Venue]:
    qs = Venue.objects.all()
    if not user.is_superuser:
        qs = qs.filter(owner_id__in=_working_with(user))
    return qs.prefetch_related("rooms")


def venue_get(*, user: Any, venue_id: int) -> Venue:
    venue = venue_list(user=user).filter(pk=venue_id).first()
    if venue is None:
        raise Http404
    return venue


def venue_can_edit(*, user: Any, venue: Venue) -> bool:
    return user.is_superuser or venue.owner_id in organisation_ids_for(user, Membership.Role.COORDINATOR)
