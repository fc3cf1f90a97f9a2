from __future__ import annotations

from django.urls import path

from booking import apis

app_name = "booking"
urlpatterns = [
    path("cases/", apis.CaseListApi.as_view(), name="case-list"),
    path("cases/<int:case_id>/", apis.CaseDetailApi.as_view(), name="case-detail"),
    path("cases/<int:case_id>/transitions/", apis.CaseTransitionApi.as_view(), name="case-transition"),
    path("cases/<int:case_id>/history/", apis.CaseHistoryApi.as_view(), name="case-history"),
    path("cases/<int:case_id>/participants/", apis.ParticipantListApi.as_view(), name="participant-list"),
    path(
        "cases/<int:case_id>/participants/<int:participant_id>/",
        apis.ParticipantDetailApi.as_view(),
        name="participant-detail",
    ),
]
