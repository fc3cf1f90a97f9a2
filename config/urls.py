from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from booking import calendar_views, report_apis, respond
from core import apis as core_apis
from core.errors import json_not_found, server_error
from core.security import ApiDocsView

api = [
    path("organisations/", core_apis.OrganisationListApi.as_view(), name="organisation-list"),
    path(
        "organisations/<int:organisation_id>/",
        core_apis.OrganisationDetailApi.as_view(),
        name="organisation-detail",
    ),
    path("auth/token/", core_apis.TokenObtainApi.as_view(), name="auth-token"),
    path("", include("booking.urls")),
    path("", include("scheduling.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI without inline script or style, under the strict content security policy (core/security.py).
    path("docs/", ApiDocsView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("m/<str:token>/", respond.respond_short, name="respond-short"),
    path("respond/<str:token>/", respond.respond, name="respond"),
    path("respond/<str:token>/<str:answer>/", respond.respond, name="respond-answer"),
    path("calendar/<str:token>.ics", calendar_views.calendar_feed, name="calendar-feed"),
    path("", include("notifications.urls")),
    path("", include(report_apis.page_urlpatterns)),
    path("", include("web.urls")),
    path("admin/", admin.site.urls),
    path("api/", include(api)),
]

handler404 = json_not_found
handler500 = server_error
