from __future__ import annotations

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from core.models import Membership, Organisation, SignInFailure


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "code", "timezone"]
    list_filter = ["kind"]
    search_fields = ["name", "code"]
    filter_horizontal = ["served_authorities", "partner_icbs"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "role"]
    list_filter = ["role", "organisation"]
    search_fields = ["user__username", "user__email", "organisation__name"]
    autocomplete_fields = ["user", "organisation"]


@admin.register(SignInFailure)
class SignInFailureAdmin(admin.ModelAdmin):
    """Failed sign-ins still counted by the throttle (core/security.py). Search by a username or an address to find
    its rows; deleting them lets that account or address sign in again before the window has passed."""

    list_display = ["at", "account", "address"]
    search_fields = ["account"]
    search_help_text = "A username, or a client address (an IPv6 address finds its /64, as the throttle counts it)."

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        from core.security import account_key, address_group, address_key

        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(account=account_key(term)) | Q(address=address_key(address_group(term)))), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
