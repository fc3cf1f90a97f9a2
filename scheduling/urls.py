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
