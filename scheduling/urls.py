from __future__ import annotations

from django.urls import path

from scheduling import apis

app_name = "scheduling"
urlpatterns = [
    path("mediators/", apis.MediatorListApi.as_view(), name="mediator-list"),
    path("mediators/<int:mediator_id>/", apis.MediatorDetailApi.as_view(), name="mediator-detail"),
    path("venues/", apis.VenueListApi.as_view(), name="venue-list"),
    path("venues/<int:venue_id>/", apis.VenueDetailApi.as_view(), name="venue-detail"),
]

from scheduling import slot_apis  # noqa: E402

urlpatterns += [
    path("cases/<int:case_id>/slots/", slot_apis.CaseSlotListApi.as_view(), name="case-slots"),
    path("mediators/<int:mediator_id>/free-busy/", slot_apis.MediatorFreeBusyApi.as_view(), name="mediator-free-busy"),
    path("availability/rules/", slot_apis.RuleListApi.as_view(), name="rule-list"),
    path("availability/rules/<int:rule_id>/", slot_apis.RuleDetailApi.as_view(), name="rule-detail"),
    path("availability/exceptions/", slot_apis.ExceptionListApi.as_view(), name="exception-list"),
    path(
        "availability/exceptions/<int:exception_id>/", slot_apis.ExceptionDetailApi.as_view(), name="exception-detail"
    ),
]

from scheduling import calendar_apis  # noqa: E402

urlpatterns += [
    path("calendar-connections/", calendar_apis.ConnectionListApi.as_view(), name="calendar-connection-list"),
    path("calendar-connections/test/", calendar_apis.ConnectionTestApi.as_view(), name="calendar-connection-test"),
    path(
        "calendar-connections/<int:connection_id>/",
        calendar_apis.ConnectionDetailApi.as_view(),
        name="calendar-connection-detail",
    ),
    path(
        "calendar-connections/<int:connection_id>/sync/",
        calendar_apis.ConnectionSyncApi.as_view(),
        name="calendar-connection-sync",
    ),
]
