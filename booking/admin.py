from __future__ import annotations

import uuid
from datetime import timedelta

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from booking.models import (
    AgreedAction,
    CalendarFeed,
    Case,
    CaseAnonymisation,
    CaseEvent,
    Certificate,
    FeedbackRequest,
    Meeting,
    MeetingAttendee,
    Offer,
    OfferSlot,
    Outcome,
    Participant,
    ParticipantUnavailability,
    RetentionPolicy,
)
from booking.services import case_recompute_deadlines
from core.clock import local_today


class DeadlineSoonFilter(admin.SimpleListFilter):
    title = "mediation due"
    parameter_name = "due"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("overdue", "Overdue"), ("7", "Within 7 days"), ("30", "Within 30 days")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Case]) -> QuerySet[Case]:
        today = local_today()
        if self.value() == "overdue":
            return queryset.filter(mediation_due__lt=today)
        if self.value() in ("7", "30"):
            return queryset.filter(
                mediation_due__gte=today, mediation_due__lte=today + timedelta(days=int(self.value()))
            )
        return queryset


class ParticipantInline(admin.StackedInline):
    model = Participant
    extra = 0


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "kind", "from_state", "to_state", "actor_label", "reason", "details"]
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = [
        "reference", "state", "route", "local_authority", "provider", "mediator", "mediation_due",
        "certificate_due", "appeal_deadline",
    ]  # fmt: skip
    list_filter = ["state", "route", "local_authority", "provider", DeadlineSoonFilter, "mediation_due"]
    search_fields = ["reference"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "reference", "state", "contact_deadline", "icb_notice_due", "mediation_due", "certificate_due",
        "appeal_deadline", "deadline_rules", "created_at", "updated_at",
    ]  # fmt: skip
    filter_horizontal = ["icbs"]
    inlines = [ParticipantInline, CaseEventInline]

    def save_model(self, request: HttpRequest, obj: Case, form: object, change: bool) -> None:
        case_recompute_deadlines(case=obj)
        if not obj.reference:
            obj.reference = f"new-{uuid.uuid4().hex[:24]}"
        super().save_model(request, obj, form, change)
        if obj.reference.startswith("new-"):
            obj.reference = f"MED-{local_today().year}-{obj.pk:05d}"
            obj.save(update_fields=["reference"])


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["name", "role", "case", "required"]
    list_filter = ["role", "required"]
    search_fields = ["name", "email", "case__reference"]


@admin.register(CaseEvent)
class CaseEventAdmin(admin.ModelAdmin):
    list_display = ["case", "kind", "from_state", "to_state", "actor_label", "at"]
    list_filter = ["kind", "to_state"]
    readonly_fields = [f.name for f in CaseEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class MeetingAttendeeInline(admin.TabularInline):
    model = MeetingAttendee
    extra = 0
    fields = ["name", "email", "ical_role", "partstat", "wants_another_time", "active"]
    readonly_fields = ["partstat", "wants_another_time"]


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin):
    """Meetings are booked, moved and cancelled through the service, so every resource stays in one place."""

    list_display = ["case", "start", "end", "mode", "mediator", "status", "sequence", "cancelled_by"]
    list_filter = ["status", "mode", "cancelled_by", "mediator"]
    readonly_fields = ["uid", "sequence", "start", "end", "mode", "mediator", "room", "status", "offer_slot"]
    inlines = [MeetingAttendeeInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class OfferSlotInline(admin.TabularInline):
    model = OfferSlot
    extra = 0
    can_delete = False
    readonly_fields = ["rank", "start", "end", "mode", "mediator", "room", "late"]
    fields = readonly_fields


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ["case", "status", "expires_at", "created_at"]
    list_filter = ["status"]
    exclude = ["token_hash"]
    readonly_fields = ["case", "status", "expires_at", "decided_at"]
    inlines = [OfferSlotInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["mediator", "created_at", "revoked_at"]
    exclude = ["token"]


admin.site.register(ParticipantUnavailability)


class AgreedActionInline(admin.TabularInline):
    model = AgreedAction
    extra = 0


@admin.register(Outcome)
class OutcomeAdmin(admin.ModelAdmin):
    list_display = ["case", "result"]
    inlines = [AgreedActionInline]


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    list_display = ["case", "kind", "issued_on", "due_on"]
    exclude = ["pdf"]


admin.site.register(FeedbackRequest)
admin.site.register(RetentionPolicy)
admin.site.register(CaseAnonymisation)
admin.site.register(OfferSlot)
admin.site.register(MeetingAttendee)
admin.site.register(AgreedAction)
