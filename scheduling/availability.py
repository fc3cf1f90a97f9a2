"""Who may see and change a resource's availability, and the writes for rules and exceptions."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404

from core.models import Membership
from core.services import model_update
from core.tenancy import organisation_ids_for
from scheduling.models import AvailabilityException, AvailabilityRule, Mediator, Resource, Room
from scheduling.occupancy import resource_for_mediator, resource_for_room, resource_for_user


def resources_visible(user: Any) -> Q:
    """Resources a user may manage: their own, and those of organisations they coordinate for."""
    if user.is_superuser:
        return Q()
    coordinating = organisation_ids_for(user, Membership.Role.COORDINATOR)
    return Q(user_id=user.pk) | Q(mediator__user_id=user.pk) | Q(organisation_id__in=coordinating)


def resource_resolve(*, user: Any, mediator: int | None = None, staff_user: int | None = None,
                     room: int | None = None) -> Resource:  # fmt: skip
    """The resource named by exactly one of mediator / staff_user / room, if the user may manage it; else 404."""
    given = [v for v in (mediator, staff_user, room) if v is not None]
    if len(given) != 1:
        raise ValidationError({"resource": ["Name exactly one of mediator, staff_user or room."]})
    coordinating = organisation_ids_for(user, Membership.Role.COORDINATOR)
    if mediator is not None:
        m = Mediator.objects.filter(pk=mediator).first()
        if m is None or not (user.is_superuser or m.user_id == user.pk or m.provider_id in coordinating):
            raise Http404
        return resource_for_mediator(m)
    if room is not None:
        r = Room.objects.select_related("venue").filter(pk=room).first()
        if r is None or not (user.is_superuser or r.venue.owner_id in coordinating):
            raise Http404
        return resource_for_room(r)
    member = Membership.objects.filter(user_id=staff_user).select_related("user", "organisation")
    if staff_user != user.pk and not user.is_superuser:
        member = member.filter(organisation_id__in=coordinating)
    membership = member.first()
    if membership is None:
        raise Http404
    return resource_for_user(membership.user, membership.organisation)


def rule_list(*, user: Any, resource_id: int | None = None) -> QuerySet[AvailabilityRule]:
    qs = AvailabilityRule.objects.filter(resource__in=Resource.objects.filter(resources_visible(user)))
    return qs.filter(resource_id=resource_id) if resource_id else qs


def rule_get(*, user: Any, rule_id: int) -> AvailabilityRule:
    rule = rule_list(user=user).filter(pk=rule_id).first()
    if rule is None:
        raise Http404
    return rule


def exception_list(*, user: Any, resource_id: int | None = None) -> QuerySet[AvailabilityException]:
    qs = AvailabilityException.objects.filter(resource__in=Resource.objects.filter(resources_visible(user)))
    return qs.filter(resource_id=resource_id) if resource_id else qs


def exception_get(*, user: Any, exception_id: int) -> AvailabilityException:
    exception = exception_list(user=user).filter(pk=exception_id).first()
    if exception is None:
        raise Http404
    return exception


RULE_FIELDS = ["weekday", "start_time", "end_time", "timezone", "valid_from", "valid_until"]
EXCEPTION_FIELDS = ["kind", "first_day", "last_day", "start_time", "end_time", "timezone", "note"]


def _check_rule(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if values.get("start_time") and values.get("end_time") and values["end_time"] <= values["start_time"]:
        errors["end_time"] = ["The end must be after the start."]
    if values.get("valid_from") and values.get("valid_until") and values["valid_until"] < values["valid_from"]:
        errors["valid_until"] = ["This is before valid_from."]
    if errors:
        raise ValidationError(errors)


def _check_exception(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if values.get("first_day") and values.get("last_day") and values["last_day"] < values["first_day"]:
        errors["last_day"] = ["The last day is before the first day."]
    start, end = values.get("start_time"), values.get("end_time")
    if (start is None) != (end is None):
        errors["end_time" if end is None else "start_time"] = ["Give both times, or neither for whole days."]
    elif start is not None and end <= start:
        errors["end_time"] = ["The end must be after the start."]
    if values.get("kind") == "extra" and start is None:
        errors.setdefault("start_time", []).append("Extra availability needs a start and end time.")
    if values.get("first_day") and values.get("last_day") and (values["last_day"] - values["first_day"]).days > 366:
        errors.setdefault("last_day", []).append("An exception covers at most a year.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def rule_create(*, resource: Resource, **data: Any) -> AvailabilityRule:
    _check_rule(data)
    rule = AvailabilityRule(resource=resource, **{k: v for k, v in data.items() if k in RULE_FIELDS})
    rule.full_clean()
    rule.save()
    return rule


@transaction.atomic
def rule_update(*, rule: AvailabilityRule, **data: Any) -> AvailabilityRule:
    _check_rule({name: data.get(name, getattr(rule, name)) for name in RULE_FIELDS})
    model_update(instance=rule, fields=RULE_FIELDS, data=data)
    return rule


@transaction.atomic
def exception_create(*, resource: Resource, **data: Any) -> AvailabilityException:
    _check_exception(data)
    exception = AvailabilityException(resource=resource, **{k: v for k, v in data.items() if k in EXCEPTION_FIELDS})
    exception.full_clean()
    exception.save()
    return exception


@transaction.atomic
def exception_update(*, exception: AvailabilityException, **data: Any) -> AvailabilityException:
    _check_exception({name: data.get(name, getattr(exception, name)) for name in EXCEPTION_FIELDS})
    model_update(instance=exception, fields=EXCEPTION_FIELDS, data=data)
    return exception


User = get_user_model()
