"""Admin for calendar connections: state and errors only; the app password is not a field here at all."""

from __future__ import annotations

from django.contrib import admin

from scheduling.models import CalendarConnection


@admin.register(CalendarConnection)
class CalendarConnectionAdmin(admin.ModelAdmin):
    list_display = ["resource", "calendar_name", "last_success_at", "consecutive_failures", "breaker_open_until"]
    list_filter = ["push_enabled", "sync_mode"]
    exclude = ["password_encrypted", "etags", "sync_token"]
    readonly_fields = [
        "resource", "server_url", "username", "calendar_url", "sync_mode", "synced_until", "last_sync_at",
        "last_success_at", "last_error", "consecutive_failures", "breaker_open_until", "created_at",
    ]  # fmt: skip
