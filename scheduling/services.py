"""Writes for mediators and venues."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from core.models import Membership, Organisation
from core.services import model_update
from core.tenancy import organisation_ids_for
from scheduling.models import ACCESS_FEATURES, Mediator, Room, Venue

MEDIATOR_FIELDS = [
    "name", "email", "mobile", "active", "register", "register_id", "accreditation_expires", "specialisms",
    "languages", "online", "in_person", "max_active_cases", "independence_declared_on", "timezone",
    "buffer_before_minutes", "buffer_after_minutes", "max_meetings_per_day", "max_meetings_per_week",
]  # fmt: skip
VENUE_FIELDS = [
    "name", "online_only", "address", "town", "postcode", "features", "access_notes", "timezone", "opens_at",
    "closes_at", "active",
]  # fmt: skip


def _check_mediator(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if not values.get("online") and not values.get("in_person"):
        errors["online"] = ["A mediator meets online, in person, or both."]
    day, week = values.get("max_meetings_per_day"), values.get("max_meetings_per_week")
    if day is not None and week is not None and week < day:
        errors["max_meetings_per_week"] = ["The weekly maximum cannot be below the daily maximum."]
    areas = values.get("areas") or []
    if any(a.kind != Organisation.Kind.LOCAL_AUTHORITY for a in areas):
        errors["areas"] = ["Areas are local authorities."]
    if errors:
        raise ValidationError(errors)


def _coordinates(user: Any, organisation: Organisation) -> bool:
    return user.is_superuser or organisation.pk in organisation_ids_for(user, Membership.Role.COORDINATOR)


@transaction.atomic
def mediator_create(
    *, actor: Any, provider: Organisation, areas: list[Organisation] | None = None,
    employers: list[Organisation] | None = None, **data: Any,
) -> Mediator:  # fmt: skip
    if provider.kind != Organisation.Kind.PROVIDER or not _coordinates(actor, provider):
        raise ValidationError({"provider": ["Choose a mediation provider you coordinate for."]})
    _check_mediator({**data, "areas": areas})
    mediator = Mediator(provider=provider, **{k: v for k, v in data.items() if k in MEDIATOR_FIELDS})
    mediator.full_clean()
    mediator.save()
    mediator.areas.set(areas or [])
    mediator.employers.set(employers or [])
    return mediator


@transaction.atomic
def mediator_update(
    *, mediator: Mediator, actor: Any, areas: list[Organisation] | None = None,
    employers: list[Organisation] | None = None, **data: Any,
) -> Mediator:  # fmt: skip
    if not _coordinates(actor, mediator.provider):
        raise PermissionDenied
    merged = {name: data.get(name, getattr(mediator, name)) for name in MEDIATOR_FIELDS}
    _check_mediator({**merged, "areas": areas})
    model_update(instance=mediator, fields=MEDIATOR_FIELDS, data=data)
    if areas is not None:
        mediator.areas.set(areas)
    if employers is not None:
        mediator.employers.set(employers)
    return mediator


def _check_venue(values: dict[str, Any], rooms: list[dict[str, Any]] | None) -> None:
    errors: dict[str, Any] = {}
    unknown = sorted(set(values.get("features") or []) - set(ACCESS_FEATURES))
    if unknown:
        errors["features"] = [f"Unknown access features: {', '.join(unknown)}."]
    opens, closes = values.get("opens_at"), values.get("closes_at")
    if opens is not None and closes is not None and closes <= opens:
        errors["closes_at"] = ["The venue must close after it opens."]
    if not values.get("online_only") and not values.get("address"):
        errors["address"] = ["A venue people travel to needs an address."]
    if rooms is not None:
        names = [r.get("name") for r in rooms]
        if not all(names):
            errors["rooms"] = ["Each room needs a name."]
        elif len(names) != len(set(names)):
            errors["rooms"] = ["Each room needs a different name."]
    if errors:
        raise ValidationError(errors)


def _set_rooms(venue: Venue, rooms: list[dict[str, Any]]) -> None:
    keep = {r["name"] for r in rooms}
    venue.rooms.exclude(name__in=keep).delete()
    for room in rooms:
        Room.objects.update_or_create(venue=venue, name=room["name"], defaults={
            "capacity": room.get("capacity", 8), "features": room.get("features", []),
        })  # fmt: skip


@transaction.atomic
def venue_create(*, actor: Any, owner: Organisation, rooms: list[dict[str, Any]] | None = None, **data: Any) -> Venue:
    if not _coordinates(actor, owner):
        raise ValidationError({"owner": ["Choose an organisation you coordinate for."]})
    _check_venue(data, rooms)
    venue = Venue(owner=owner, **{k: v for k, v in data.items() if k in VENUE_FIELDS})
    venue.full_clean()
    venue.save()
    _set_rooms(venue, rooms or [])
    return venue


@transaction.atomic
def venue_update(*, venue: Venue, actor: Any, rooms: list[dict[str, Any]] | None = None, **data: Any) -> Venue:
    if not _coordinates(actor, venue.owner):
        raise PermissionDenied
    merged = {name: data.get(name, getattr(venue, name)) for name in VENUE_FIELDS}
    _check_venue(merged, rooms)
    model_update(instance=venue, fields=VENUE_FIELDS, data=data)
    if rooms is not None:
        _set_rooms(venue, rooms)
    return venue


def accreditation_in_date(mediator: Mediator, *, today: date) -> bool:
    return mediator.accreditation_expires >= today
