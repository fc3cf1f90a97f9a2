from __future__ import annotations

from django.contrib import admin

import scheduling.caldav.admin  # noqa: F401 - registers the calendar connection admin (without the password)
from scheduling.models import Mediator, MediatorConflict, Room, Venue


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
