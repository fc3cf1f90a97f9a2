"""Audit rows recorded before paths were redacted (core.security.path_for_logs) may name a family's, an attendee's or
a calendar feed's access token in their path. This rewrites those paths as they are now recorded: the token replaced
by "<token>". Only the routes that carry a token are read."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.db import migrations
from django.db.models import Q

# The routes with a token in their path when this migration was written.
TOKEN_ROUTE_PREFIXES = (
    "/book/", "/respond/", "/m/", "/calendar/", "/feedback/", "/api/offers/", "/api/certificates/", "/api/feedback/",
)  # fmt: skip


def redact(apps: Any, schema_editor: Any) -> None:
    from core.security import path_for_logs

    AuditEvent = apps.get_model("booking", "AuditEvent")
    carrying = Q()
    for prefix in TOKEN_ROUTE_PREFIXES:
        carrying |= Q(path__startswith=prefix)
    rows = AuditEvent.objects.filter(carrying).exclude(path__contains="<token>").values_list("pk", "path")
    for pk, path in rows.iterator(chunk_size=2000):
        clean = path_for_logs(SimpleNamespace(path=path, path_info=path))[:300]
        if clean != path:
            AuditEvent.objects.filter(pk=pk).update(path=clean)


class Migration(migrations.Migration):
    dependencies = [("booking", "0004_outcomes_certificates_audit_retention")]

    operations = [migrations.RunPython(redact, migrations.RunPython.noop)]
