from __future__ import annotations

from django.urls import path

from web.views import coordinator, family, mediator, pages

app_name = "web"
urlpatterns = [
    path("", pages.home, name="home"),
    path("sign-in/", pages.SignInView.as_view(), name="login"),
    path("sign-out/", pages.SignOutView.as_view(), name="logout"),
    path("staff/", pages.staff_home, name="staff-home"),
    # Families: every page hangs off the link in the offer.
    path("book/<str:token>/", family.booking, name="book"),
    path("book/<str:token>/calendar.ics", family.calendar_file, name="book-ics"),
    path("book/<str:token>/new-time/", family.new_time, name="book-new-time"),
    path("book/<str:token>/cancel/", family.cancel, name="book-cancel"),
    # Mediators.
    path("mediator/", mediator.overview, name="mediator"),
    path("mediator/rules/", mediator.rule_add, name="rule-add"),
    path("mediator/rules/<int:rule_id>/remove/", mediator.rule_remove, name="rule-remove"),
    path("mediator/exceptions/", mediator.exception_add, name="exception-add"),
    path("mediator/exceptions/<int:exception_id>/remove/", mediator.exception_remove, name="exception-remove"),
    path("mediator/feed/", mediator.feed_create, name="feed-create"),
    path("mediator/feed/revoke/", mediator.feed_revoke, name="feed-revoke"),
    path("mediator/calendar/", mediator.calendar_connect, name="calendar-connect"),
    path("mediator/calendar/sync/", mediator.calendar_sync, name="calendar-sync"),
    path("mediator/calendar/disconnect/", mediator.calendar_disconnect, name="calendar-disconnect"),
    # Coordinators.
    path("dashboard/", coordinator.dashboard, name="dashboard"),
    path("cases/<int:case_id>/", coordinator.case_detail, name="case"),
    path("cases/<int:case_id>/assign/", coordinator.assign, name="case-assign"),
    path("cases/<int:case_id>/slots/", coordinator.slots, name="case-slots"),
    path("cases/<int:case_id>/offers/", coordinator.offer, name="case-offer"),
    path("cases/<int:case_id>/meeting/reschedule/", coordinator.reschedule, name="meeting-reschedule"),
    path("cases/<int:case_id>/meeting/cancel/", coordinator.cancel, name="meeting-cancel"),
    path("cases/<int:case_id>/move/", coordinator.move, name="case-move"),
    path("cases/<int:case_id>/people/", coordinator.person_add, name="person-add"),
    path("cases/<int:case_id>/people/<int:participant_id>/remove/", coordinator.person_remove, name="person-remove"),
    path("cases/<int:case_id>/short-notice/", coordinator.short_notice, name="case-short-notice"),
]
