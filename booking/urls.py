from __future__ import annotations

from django.urls import path

from booking import apis, calendar_views, meeting_apis, report_apis

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
    path("cases/<int:case_id>/outcome/", report_apis.CaseOutcomeApi.as_view(), name="case-outcome"),
    path("cases/<int:case_id>/actions/", report_apis.CaseActionListApi.as_view(), name="case-actions"),
    path("actions/<int:action_id>/", report_apis.ActionUpdateApi.as_view(), name="action-update"),
    path("cases/<int:case_id>/certificate/", report_apis.CertificateIssueApi.as_view(), name="certificate-issue"),
    path("cases/<int:case_id>/certificate.pdf", report_apis.CertificatePdfApi.as_view(), name="certificate-pdf"),
    path(
        "certificates/<str:token>/certificate.pdf",
        report_apis.CertificateFamilyPdfApi.as_view(),
        name="certificate-family-pdf",
    ),
    path("reports/", report_apis.ReportApi.as_view(), name="report"),
    path("reports/export.csv", report_apis.ReportCsvApi.as_view(), name="report-csv"),
    path("cases/<int:case_id>/audit/", report_apis.CaseAuditListApi.as_view(), name="case-audit"),
    path("people/export/", report_apis.PersonExportApi.as_view(), name="person-export"),
    path("people/erase/", report_apis.PersonEraseApi.as_view(), name="person-erase"),
    path("feedback/<str:token>/", report_apis.FeedbackApi.as_view(), name="feedback"),
]
