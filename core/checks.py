"""Startup checks for invariants that a misconfiguration would silently break."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.compatibility)
def check_time_zone(app_configs, **kwargs):  # type: ignore[no-untyped-def]
    errors = []
    if settings.TIME_ZONE != "UTC" or not settings.USE_TZ:
        errors.append(Error("TIME_ZONE must be 'UTC' and USE_TZ True: every stored time is UTC.", id="core.E001"))
    return errors


@register(Tags.compatibility, deploy=True)
def check_delivery_channels(app_configs, **kwargs):  # type: ignore[no-untyped-def]
    warnings = []
    if not settings.EMAIL_HOST:
        warnings.append(
            Warning("EMAIL_HOST is not set: emails are written to a local folder, not sent.", id="core.W001")
        )
    if not getattr(settings, "TWILIO_ACCOUNT_SID", ""):
        warnings.append(
            Warning(
                "TWILIO_ACCOUNT_SID is not set: SMS are recorded by the dry-run channel, not sent.",
                id="core.W002",
            )
        )
    return warnings
