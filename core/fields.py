"""Serializer fields shared by the apps' APIs."""

from __future__ import annotations

from typing import Any

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
