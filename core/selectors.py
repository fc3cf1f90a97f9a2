from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from core.models import Organisation
from core.tenancy import visible_organisation_ids


def organisation_list(*, user: Any) -> QuerySet[Organisation]:
    qs = Organisation.objects.all()
    if not user.is_superuser:
        qs = qs.filter(pk__in=visible_organisation_ids(user))
    return qs.prefetch_related("served_authorities", "partner_icbs")


def organisation_get(*, user: Any, organisation_id: int) -> Organisation:
    organisation = organisation_list(user=user).filter(pk=organisation_id).first()
    if organisation is None:
        raise Http404
    return organisation
