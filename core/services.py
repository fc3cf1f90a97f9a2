"""Small write helpers shared by the apps."""

from __future__ import annotations

from typing import Any

from django.db import models


def model_update(*, instance: models.Model, fields: list[str], data: dict[str, Any]) -> tuple[models.Model, bool]:
    """Set the given fields from data (those present), validate, save only what changed."""
    changed = [f for f in fields if f in data and getattr(instance, f) != data[f]]
    for field in changed:
        setattr(instance, field, data[field])
    if changed:
        instance.full_clean()
        instance.save(update_fields=changed)
    return instance, bool(changed)


def actor_label(user: Any) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "system"
    return user.get_full_name() or user.get_username()
