"""A schedulable case with an offer, built through the real services."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from booking import offers
from booking.models import Case, Offer
from tests.booking import helpers


def offered_case(*, today: date, now: datetime, **case_fields: Any) -> tuple[dict[str, Any], Case, Offer, str]:
    t = helpers.tenant(today=today)
    t["provider"].contact_phone = "0300 123 4567"
    t["provider"].scheduling_email = "bookings@provider.example.org"
    t["provider"].save()
    t["mediator"] = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20), child_name="Secret Child", issues="Secret dispute text")
    offer, token = offers.offer_create(case=case, actor=t["coordinator"], now=now)
    return t, case, offer, token
