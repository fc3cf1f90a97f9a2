"""Which organisations a staff user acts for, by role. Every selector that returns tenant data starts here."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from core.models import Membership, Organisation


def organisation_ids_for(user: AbstractBaseUser | AnonymousUser, *roles: str) -> set[int]:
    if not user.is_authenticated:
        return set()
    qs = Membership.objects.filter(user=user)
    if roles:
        qs = qs.filter(role__in=roles)
    return set(qs.values_list("organisation_id", flat=True))


def visible_organisation_ids(user: AbstractBaseUser | AnonymousUser) -> set[int]:
    """Own organisations, plus the ones they work with: the LAs a provider serves, the providers serving an LA,
    and the ICBs partnered with those LAs."""
    own = organisation_ids_for(user)
    if not own:
        return set()
    related = set(Organisation.objects.filter(providers__in=own).values_list("id", flat=True)) | set(
        Organisation.objects.filter(served_authorities__in=own).values_list("id", flat=True)
    )
    las = own | related
    icbs = set(Organisation.objects.filter(partner_authorities__in=las).values_list("id", flat=True))
    return own | related | icbs
