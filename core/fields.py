"""Serializer fields shared by the apps' APIs."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.models import _ZONES
from core.phones import InvalidPhoneNumberError, to_e164


class PhoneNumberField(serializers.CharField):
    """Accepts UK or international numbers; returns E.164."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value == "":
            return value
        try:
            return to_e164(value)
        except InvalidPhoneNumberError as exc:
            raise serializers.ValidationError(str(exc)) from None


class TimeZoneField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value not in _ZONES:
            raise serializers.ValidationError(f"{value!r} is not a known time zone (for example Europe/London).")
        return value


MAX_ID = 2**63 - 1  # the largest BigAutoField value


class IdField(serializers.IntegerField):
    """The id of a row, given in a filter or a body: 1 up to the largest id the database can hold. A larger number
    names no row, and past 64 bits SQLite refuses it outright (an OverflowError, so a 500) when it is compared with a
    foreign key column."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


WALL_CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"


@extend_schema_field({"type": "string", "pattern": WALL_CLOCK_PATTERN, "example": "09:30"})
class WallClockTimeField(serializers.TimeField):
    """A time of day on the wall clock of the resource's zone: "09:30" or "09:30:00", never with an offset.

    OpenAPI's format "time" is RFC 3339's full-time, which requires an offset ("09:30:00Z"); DRF would drop such an
    offset without a word, so the schema gives the pattern instead and an offset is refused."""

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(WALL_CLOCK_PATTERN, value):
            raise serializers.ValidationError("Give a time of day as HH:MM or HH:MM:SS, without a time zone offset.")
        return super().to_internal_value(value)


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true/false: "yes", 1 or "on" in a JSON API are mistakes, not booleans."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        raise serializers.ValidationError("Must be true or false.")


class StringListField(serializers.ListField):
    def __init__(self, *, choices: list[str] | None = None, **kwargs: Any) -> None:
        child = serializers.ChoiceField(choices=choices) if choices else serializers.CharField(max_length=60)
        kwargs.setdefault("allow_empty", True)
        super().__init__(child=child, **kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        values = super().to_internal_value(data)
        return list(dict.fromkeys(values))


class RelatedIdsField(serializers.ListField):
    """Read-only list of the ids of a many-to-many relation."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.IntegerField(), read_only=True, **kwargs)

    def to_representation(self, data: Any) -> list[int]:
        return [obj.pk for obj in data.all()]


class UkDateTimeField(serializers.DateTimeField):
    """A moment in ISO 8601. One given without an offset is UK time (the service's display zone), which is what the
    people who type it mean, not UTC: "2027-06-14T10:00" is 10am British Summer Time."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default_timezone", ZoneInfo(settings.DISPLAY_TIME_ZONE))
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> Any:
        moment = super().to_internal_value(value)
        # Time zones and margins are worked out from it: keep clear of year 1 and 9999.
        if not 2000 <= moment.year < 2100:
            raise serializers.ValidationError("Give a time between the years 2000 and 2099.")
        return moment


class VisibleOrganisationField(serializers.PrimaryKeyRelatedField):
    """An organisation by id, among those the caller works with (core.tenancy.visible_organisation_ids). Any other
    id is "does not exist", as an id that does not: a 400 tells nothing of other tenants. Needs the request in the
    serializer's context."""

    def __init__(self, **kwargs: Any) -> None:
        from core.models import Organisation

        kwargs.setdefault("queryset", Organisation.objects.all())
        super().__init__(**kwargs)

    @classmethod
    def many_init(cls, *args: Any, **kwargs: Any) -> serializers.ManyRelatedField:
        from rest_framework.relations import MANY_RELATION_KWARGS

        many = {key: value for key, value in kwargs.items() if key in MANY_RELATION_KWARGS}
        child = cls(*args, **{key: value for key, value in kwargs.items() if key not in MANY_RELATION_KWARGS})
        return _FewOrganisations(child_relation=child, **many)

    def get_queryset(self) -> Any:
        from core.tenancy import visible_organisation_ids

        queryset = super().get_queryset()
        request = self.context.get("request")
        if request is None or request.user.is_superuser:
            return queryset
        visible = getattr(request, "_visible_organisations", None)
        if visible is None:  # worked out once per request, however many ids are given
            visible = request._visible_organisations = visible_organisation_ids(request.user)
        return queryset.filter(pk__in=visible)


class _FewOrganisations(serializers.ManyRelatedField):
    """A list of organisations: a case names a handful (its ICBs), never thousands."""

    MAX = 20

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, list) and len(data) > self.MAX:
            raise serializers.ValidationError(f"Name at most {self.MAX}.")
        return super().to_internal_value(data)
