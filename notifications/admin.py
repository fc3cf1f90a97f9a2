from __future__ import annotations

from typing import Any

from django.contrib import admin

from notifications.models import Message, PeriodicRun, ReminderSchedule, SmsNumber


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """The outbox, read-only: what was sent to whom, when, and whether it arrived."""

    list_display = ["kind", "channel", "to", "status", "due_at", "sent_at", "attempts", "case"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["to", "case__reference"]
    exclude = ["callback_token", "context"]  # the context of a pending offer holds the family's link

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(SmsNumber)
class SmsNumberAdmin(admin.ModelAdmin):
    list_display = ["number", "opted_out", "invalid", "updated_at"]
    list_filter = ["opted_out", "invalid"]


admin.site.register(ReminderSchedule)
admin.site.register(PeriodicRun)
