from __future__ import annotations

from typing import Any

from django.contrib import admin

import scheduling.caldav.admin  # noqa: F401 - registers the calendar connection admin (without the password)
from scheduling.models import (
    AvailabilityException,
    AvailabilityRule,
    BusyBlock,
    CalendarEvent,
    Mediator,
    MediatorConflict,
    Occupancy,
    Resource,
    Room,
    Venue,
)


class ConflictInline(admin.TabularInline):
    model = MediatorConflict
    extra = 0


@admin.register(Mediator)
class MediatorAdmin(admin.ModelAdmin):
    list_display = ["name", "provider", "active", "accreditation_expires", "online", "in_person"]
    list_filter = ["active", "provider", "online", "in_person", "areas"]
    search_fields = ["name", "email", "register_id"]
    filter_horizontal = ["areas", "employers"]
    inlines = [ConflictInline]


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "town", "online_only", "active"]
    list_filter = ["owner", "online_only", "active"]
    search_fields = ["name", "town", "postcode"]
    inlines = [RoomInline]


admin.site.register(MediatorConflict)
admin.site.register(Room)


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "organisation", "timezone"]
    list_filter = ["kind", "organisation"]
    search_fields = ["name"]


@admin.register(AvailabilityRule)
class AvailabilityRuleAdmin(admin.ModelAdmin):
    list_display = ["resource", "weekday", "start_time", "end_time", "timezone", "valid_from", "valid_until"]
    list_filter = ["weekday"]


@admin.register(AvailabilityException)
class AvailabilityExceptionAdmin(admin.ModelAdmin):
    list_display = ["resource", "kind", "first_day", "last_day", "start_time", "end_time"]
    list_filter = ["kind"]


@admin.register(Occupancy)
class OccupancyAdmin(admin.ModelAdmin):
    """Read-only: occupancies change only through bookings, so the overlap rules always apply."""

    list_display = ["resource", "kind", "start", "end", "active", "expires_at"]
    list_filter = ["kind", "active"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


admin.site.register(BusyBlock)
admin.site.register(CalendarEvent)
