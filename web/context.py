"""What every staff page's menu needs: which of the staff pages the signed-in user has."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from core.models import Membership
from core.tenancy import memberships
from scheduling.models import Mediator


def staff_menu(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def pages() -> dict[str, bool]:
        roles = {role for _, role in memberships(user)}
        staff = user.is_superuser or bool(roles & {Membership.Role.COORDINATOR, Membership.Role.HEALTH_REPRESENTATIVE})
        mediator = Mediator.objects.filter(user_id=user.pk).exists()
        return {
            "cases": staff or mediator,
            "availability": mediator,
            "reports": user.is_superuser or bool(roles & {Membership.Role.COORDINATOR, Membership.Role.COMMISSIONER}),
        }

    return {"menu": SimpleLazyObject(pages)}
