from __future__ import annotations

from django.urls import path

from booking import apis, calendar_views, meeting_apis

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
    path("cases/<int:case_id>/mediator-matches/", meeting_apis.MediatorMatchListApi.as_view(), name="case-matches"),
    path("cases/<int:case_id>/mediator/", meeting_apis.CaseAssignMediatorApi.as_view(), name="case-assign-mediator"),
    path("cases/<int:case_id>/offers/", meeting_apis.CaseOfferCreateApi.as_view(), name="case-offer-create"),
    path("cases/<int:case_id>/meetings/", meeting_apis.CaseMeetingCreateApi.as_view(), name="case-meeting-create"),
    path("offers/<str:token>/", meeting_apis.OfferDetailApi.as_view(), name="offer-detail"),
    path("offers/<str:token>/accept/", meeting_apis.OfferAcceptApi.as_view(), name="offer-accept"),
    path("meetings/<int:meeting_id>/", meeting_apis.MeetingDetailApi.as_view(), name="meeting-detail"),
    path("meetings/<int:meeting_id>/cancel/", meeting_apis.MeetingCancelApi.as_view(), name="meeting-cancel"),
    path("meetings/<int:meeting_id>/invite.ics", calendar_views.MeetingInviteIcsApi.as_view(), name="meeting-ics"),
    path("mediators/<int:mediator_id>/calendar-feed/", calendar_views.MediatorFeedApi.as_view(), name="mediator-feed"),
    path("inbound-email/", calendar_views.InboundEmailApi.as_view(), name="inbound-email"),
]
