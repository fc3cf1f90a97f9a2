"""The case history records that the child's details changed, never their values (booking.services.case_update): the
rows written before that rule get their values blanked, as anonymisation does."""

from __future__ import annotations

from typing import Any

from django.db import migrations

PERSONAL_FIELDS = ("child_name", "child_date_of_birth", "issues", "health_provision_sought", "school_name")


def blank_personal_values(apps: Any, schema_editor: Any) -> None:
    CaseEvent = apps.get_model("booking", "CaseEvent")
    for event in CaseEvent.objects.filter(kind="updated").only("pk", "details").iterator():
        changed = (event.details or {}).get("changed")
        if not isinstance(changed, dict):
            continue
        personal = [name for name in PERSONAL_FIELDS if changed.get(name) is not None]
        if personal:
            event.details = {**event.details, "changed": {**changed, **dict.fromkeys(personal)}}
            event.save(update_fields=["details"])


class Migration(migrations.Migration):
    dependencies = [("booking", "0006_one_confirmed_meeting_per_case")]

    operations = [migrations.RunPython(blank_personal_values, migrations.RunPython.noop)]
