"""Coordinator and mediator pages through Django's test client: sign-in, tenancy, CSRF, bad input, writes."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client

from booking import offers
from booking.models import Case, Meeting, Offer
from scheduling.models import AvailabilityException, AvailabilityRule
from tests.booking import helpers
from tests.web.conftest import NOW, TODAY
from tests.web.factories import offered_case

pytestmark = pytest.mark.django_db


def _book(tenant: Any) -> Meeting:
    """An online meeting for the tenant's case on Tuesday 8 December, 10:00-13:00 UTC."""
    from datetime import UTC, datetime

    from booking.meetings import meeting_book

    start = datetime(2026, 12, 8, 10, tzinfo=UTC)
    return meeting_book(case=tenant["case"], actor=tenant["coordinator"], start=start, end=start.replace(hour=13),
                        mediator=tenant["mediator"], room=None, mode="online", now=NOW)  # fmt: skip


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def tenant() -> Any:
    with time_machine.travel(NOW, tick=False):
        t = helpers.tenant(today=TODAY)
        t["mediator"] = helpers.mediator(t)
        t["case"] = helpers.case(t, la_notified=date(2026, 11, 20))
        yield t


def test_the_start_and_sign_in_pages_render_and_staff_pages_need_sign_in() -> None:
    assert Client().get("/").status_code == 200
    assert Client().get("/sign-in/").status_code == 200
    response = Client().get("/dashboard/")
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/?next=")


def test_signing_in_sends_coordinators_to_the_dashboard_and_mediators_to_their_page(tenant: Any) -> None:
    client = Client()
    response = client.post("/sign-in/", {"username": tenant["coordinator"].username, "password": "pw"})
    assert response.status_code == 302 and response["Location"] == "/staff/"
    assert client.get("/staff/")["Location"] == "/dashboard/"
    mediator_user = get_user_model().objects.create_user("med-user", password="pw")
    tenant["mediator"].user = mediator_user
    tenant["mediator"].save()
    assert _client(mediator_user).get("/staff/")["Location"] == "/mediator/"


def test_bad_sign_in_shows_the_error_summary(tenant: Any) -> None:
    response = Client().post("/sign-in/", {"username": tenant["coordinator"].username, "password": "wrong"})
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    assert "The username or password is not right" in response.content.decode()
    empty = Client().post("/sign-in/", {}).content.decode()
    assert "Enter your username" in empty and "Enter your password" in empty


def test_sign_out_is_a_post(tenant: Any) -> None:
    client = _client(tenant["coordinator"])
    assert client.get("/sign-out/").status_code == 405
    assert client.post("/sign-out/").status_code == 302
    assert client.get("/dashboard/").status_code == 302


@time_machine.travel(NOW, tick=False)
def test_the_dashboard_shows_countdowns_and_highlights_cases_at_risk(tenant: Any) -> None:
    soon = helpers.case(tenant, la_notified=date(2026, 10, 30))  # mediation due 29 November: in 2 days
    response = _client(tenant["coordinator"]).get("/dashboard/")
    assert response.status_code == 200
    body = response.content.decode()
    assert soon.reference in body and tenant["case"].reference in body
    assert "in 2 days" in body and "No confirmed meeting and mediation is due within 7 days" in body
    assert body.index(soon.reference) < body.index(tenant["case"].reference)  # at risk first
    assert "1 case at risk" in body


@time_machine.travel(NOW, tick=False)
def test_another_tenants_case_is_404(tenant: Any) -> None:
    other = helpers.tenant(today=TODAY)
    stranger = _client(other["coordinator"])
    case_id = tenant["case"].pk
    assert stranger.get(f"/cases/{case_id}/").status_code == 404
    assert stranger.get(f"/cases/{case_id}/slots/").status_code == 404
    assert stranger.post(f"/cases/{case_id}/offers/", {"best": 3}).status_code == 404
    assert tenant["case"].reference not in stranger.get("/dashboard/").content.decode()
    assert not Offer.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_the_case_page_shows_people_matches_and_history(tenant: Any) -> None:
    response = _client(tenant["coordinator"]).get(f"/cases/{tenant['case'].pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Olive Officer" in body and "Mia" in body and "earliest time everyone can meet: " in body
    assert "History" in body


@time_machine.travel(NOW, tick=False)
def test_a_coordinator_assigns_a_mediator(tenant: Any) -> None:
    second = helpers.mediator(tenant, name="Nia")
    client = _client(tenant["coordinator"])
    assert client.post(f"/cases/{tenant['case'].pk}/assign/", {"mediator": second.pk}).status_code == 302
    assert Case.objects.get(pk=tenant["case"].pk).mediator_id == second.pk
    other = helpers.tenant(today=TODAY)
    foreign = helpers.mediator(other, name="Zed")
    assert client.post(f"/cases/{tenant['case'].pk}/assign/", {"mediator": foreign.pk}).status_code == 400


@time_machine.travel(NOW, tick=False)
def test_a_coordinator_offers_the_best_three_and_sees_the_link(tenant: Any) -> None:
    client = _client(tenant["coordinator"])
    assert client.get(f"/cases/{tenant['case'].pk}/slots/").status_code == 200
    assert client.get(f"/cases/{tenant['case'].pk}/slots/?duration=abc").status_code == 400
    response = client.post(f"/cases/{tenant['case'].pk}/offers/", {"best": 3})
    assert response.status_code == 302
    offer = Offer.objects.get(case=tenant["case"])
    assert offer.slots.count() == 3
    page = client.get(f"/cases/{tenant['case'].pk}/").content.decode()
    assert "/book/" in page and "3 times offered to the family" in page


@time_machine.travel(NOW, tick=False)
def test_offering_with_no_choice_or_a_garbled_slot_writes_nothing(tenant: Any) -> None:
    client = _client(tenant["coordinator"])
    none = client.post(f"/cases/{tenant['case'].pk}/offers/", {})
    assert none.status_code == 400 and "Choose at least one time" in none.content.decode()
    garbled = client.post(f"/cases/{tenant['case'].pk}/offers/", {"slot": ["not|a|slot"]})
    assert garbled.status_code == 400 and "could not be read" in garbled.content.decode()
    taken = "2026-12-25T10:00:00+00:00|2026-12-25T13:00:00+00:00|{}||online".format(tenant["mediator"].pk)
    refused = client.post(f"/cases/{tenant['case'].pk}/offers/", {"slot": [taken]})
    assert refused.status_code == 409 and "There is a problem" in refused.content.decode()
    assert not Offer.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_staff_posts_need_the_csrf_token(tenant: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant["coordinator"])
    assert client.post(f"/cases/{tenant['case'].pk}/offers/", {"best": 3}).status_code == 403
    assert not Offer.objects.exists()


def _booked(t: dict[str, Any], case: Case) -> Meeting:
    offer, _ = offers.offer_create(case=case, actor=t["coordinator"], now=NOW)
    return offers.offer_accept(offer=offer, slot_id=offer.slots.first().pk, now=NOW)


@time_machine.travel(NOW, tick=False)
def test_a_coordinator_reschedules_and_cancels_the_meeting(tenant: Any) -> None:
    meeting = _booked(tenant, tenant["case"])
    client = _client(tenant["coordinator"])
    url = f"/cases/{tenant['case'].pk}/meeting/"
    bad = client.post(url + "reschedule/", {"day": "", "start": "25:00"})
    assert bad.status_code == 400 and "Enter a day" in bad.content.decode()
    past = client.post(url + "reschedule/", {"day": "2026-11-20", "start": "10:00"})
    assert past.status_code == 409
    moved = client.post(url + "reschedule/", {"day": "2026-12-10", "start": "10:00"})
    assert moved.status_code == 302, moved.content.decode()
    meeting.refresh_from_db()
    assert meeting.sequence == 1 and meeting.start.hour == 10  # 10:00 London is 10:00 UTC in December
    no_reason = client.post(url + "cancel/", {"cancelled_by": "la"})
    assert no_reason.status_code == 400 and "Enter the reason for cancelling" in no_reason.content.decode()
    assert client.post(url + "cancel/", {"cancelled_by": "la", "reason": "Officer ill"}).status_code == 302
    meeting.refresh_from_db()
    assert (meeting.status, meeting.cancelled_by) == ("cancelled", "la")


@time_machine.travel(NOW, tick=False)
def test_a_mediator_edits_weekly_times_and_days_off(tenant: Any) -> None:
    user = get_user_model().objects.create_user("mia-user", password="pw")
    tenant["mediator"].user = user
    tenant["mediator"].save()
    client = _client(user)
    assert client.get("/mediator/").status_code == 200
    assert (
        client.post("/mediator/rules/", {"weekday": 1, "start_time": "09:00", "end_time": "15:00"}).status_code == 302
    )
    rule = AvailabilityRule.objects.get()
    assert (rule.weekday, rule.start_time, rule.end_time) == (1, time(9), time(15))
    page = client.get("/mediator/").content.decode()
    assert 'class="govuk-table__header">Tuesday</th>' in page  # the day is named in its row
    ids = re.findall(r'id="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # two forms with start and end times, no id twice
    bad_rule = client.post("/mediator/rules/", {"weekday": 1, "start_time": "15:00", "end_time": "09:00"})
    assert bad_rule.status_code == 400 and "The end time must be after the start time" in bad_rule.content.decode()
    off = client.post("/mediator/exceptions/", {"kind": "off", "first_day": "2026-12-08"})
    assert off.status_code == 302
    exception = AvailabilityException.objects.get()
    assert (exception.first_day, exception.last_day) == (date(2026, 12, 8), date(2026, 12, 8))
    bad = client.post("/mediator/exceptions/", {"kind": "off", "first_day": "2026-12-08", "last_day": "2026-12-01"})
    assert bad.status_code == 400 and 'href="#id_change_last_day"' in bad.content.decode()
    assert AvailabilityException.objects.count() == 1
    assert client.post(f"/mediator/exceptions/{exception.pk}/remove/").status_code == 302
    assert client.post(f"/mediator/rules/{rule.pk}/remove/").status_code == 302
    assert not AvailabilityRule.objects.exists() and not AvailabilityException.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_a_mediator_cannot_remove_someone_elses_times(tenant: Any) -> None:
    from scheduling.occupancy import resource_for_mediator

    other = helpers.mediator(tenant, name="Other")
    rule = AvailabilityRule.objects.create(
        resource=resource_for_mediator(other), weekday=0, start_time=time(9), end_time=time(12)
    )
    user = get_user_model().objects.create_user("mia-user", password="pw")
    tenant["mediator"].user = user
    tenant["mediator"].save()
    assert _client(user).post(f"/mediator/rules/{rule.pk}/remove/").status_code == 404
    assert AvailabilityRule.objects.filter(pk=rule.pk).exists()


@time_machine.travel(NOW, tick=False)
def test_the_mediator_sees_upcoming_meetings_with_attendees() -> None:
    t, case, offer, token = offered_case(today=TODAY, now=NOW)
    offers.offer_accept(offer=offer, slot_id=offer.slots.first().pk, now=NOW)
    user = get_user_model().objects.create_user("mia-user", password="pw")
    t["mediator"].user = user
    t["mediator"].save()
    body = _client(user).get("/mediator/").content.decode()
    assert case.reference in body and "Olive Officer" in body


def test_a_mediator_makes_copies_and_revokes_their_feed_address(tenant: Any) -> None:
    from booking.models import CalendarFeed

    user = get_user_model().objects.create_user("feed-user", password="pw")
    tenant["mediator"].user = user
    tenant["mediator"].save()
    client = _client(user)
    first = client.get("/mediator/").content.decode()
    assert "Make my feed address" in first
    title = first.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "Your availability and meetings" in title and "<" not in title
    assert client.post("/mediator/feed/").status_code == 302
    feed = CalendarFeed.objects.get(revoked_at__isnull=True)
    page = client.get("/mediator/").content.decode()
    assert f"/calendar/{feed.token}.ics" in page and "Copy address" in page
    assert Client().get(f"/calendar/{feed.token}.ics").status_code == 200
    assert client.post("/mediator/feed/revoke/").status_code == 302
    assert Client().get(f"/calendar/{feed.token}.ics").status_code == 404


def test_a_mediator_connects_their_calendar_and_a_bad_password_writes_nothing(tenant: Any, tmp_path: Any) -> None:
    from scheduling.models import CalendarConnection
    from tests.servers.radicale import run_radicale

    user = get_user_model().objects.create_user("cal-user", password="pw")
    tenant["mediator"].user = user
    tenant["mediator"].save()
    client = _client(user)
    with run_radicale(tmp_path, users={"mia": "right-password"}) as server:
        server.make_calendar(username="mia", password="right-password", cal_id="work")
        form = {"server_url": server.url, "username": "mia", "app_password": "wrong-password", "calendar_name": ""}
        bad = client.post("/mediator/calendar/", form)
        assert bad.status_code == 400
        assert "wrong-password" not in bad.content.decode()  # never echoed back
        assert not CalendarConnection.objects.exists()
        good = client.post("/mediator/calendar/", {**form, "app_password": "right-password"})
        assert good.status_code == 302, good.content.decode()[:2000]
        connection = CalendarConnection.objects.get()
        assert "right-password" not in connection.password_encrypted
        assert "Read my calendar now" in client.get("/mediator/").content.decode()
        assert client.post("/mediator/calendar/sync/").status_code == 302
        assert client.post("/mediator/calendar/disconnect/").status_code == 302
        assert not CalendarConnection.objects.exists()


def test_the_menu_offers_each_user_only_the_pages_they_have(tenant: Any) -> None:
    from core.models import Membership

    def menu(user: Any) -> list[str]:
        page = _client(user).get("/").content.decode()
        return re.findall(r'<li><a href="(/[^"]*)">', page.split('aria-label="Staff menu"', 1)[1].split("</nav>")[0])

    assert menu(tenant["coordinator"]) == ["/dashboard/", "/reports/"]
    mediator_user = get_user_model().objects.create_user("med-menu", password="pw")
    tenant["mediator"].user = mediator_user
    tenant["mediator"].save()
    assert menu(mediator_user) == ["/dashboard/", "/mediator/"]
    commissioner = get_user_model().objects.create_user("commissioner-menu", password="pw")
    Membership.objects.create(user=commissioner, organisation=tenant["la"], role="commissioner")
    assert menu(commissioner) == ["/reports/"]
    assert "reports" in _client(commissioner).get("/staff/").content.decode()


def test_pages_are_not_kept_by_browsers_or_proxies(tenant: Any) -> None:
    response = _client(tenant["coordinator"]).get(f"/cases/{tenant['case'].pk}/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert "no-store" in Client().get("/").headers["Cache-Control"]


@time_machine.travel(NOW, tick=False)
def test_the_dashboard_flags_a_late_meeting_and_counts_no_days_for_finished_cases(tenant: Any) -> None:
    from datetime import UTC, datetime, timedelta

    late = tenant["case"]
    start = datetime(2027, 1, 11, 10, tzinfo=UTC)
    Meeting.objects.create(
        case=late, uid="late@test", start=start, end=start + timedelta(hours=3), mode="online",
        mediator=tenant["mediator"], notice_given_on=TODAY, late=True,
    )  # fmt: skip
    Case.objects.filter(pk=late.pk).update(state="scheduled")
    finished = helpers.case(tenant, la_notified=date(2026, 9, 1))
    Case.objects.filter(pk=finished.pk).update(state="closed")
    page = _client(tenant["coordinator"]).get("/dashboard/").content.decode()
    rows = {ref: page.split(ref, 1)[1].split("</tr>", 1)[0] for ref in (late.reference, finished.reference)}
    assert "after the mediation due date" in rows[late.reference]
    assert "overdue" not in rows[finished.reference] and "days" not in rows[finished.reference]
    # Once the LA has recorded that 30 days cannot be met, the late meeting is the statutory path, not a risk.
    Case.objects.filter(pk=late.pk).update(certificate_trigger="not_arranged_30_days")
    page = _client(tenant["coordinator"]).get("/dashboard/").content.decode()
    assert "after the mediation due date" not in page.split(late.reference, 1)[1].split("</tr>", 1)[0]


@time_machine.travel(NOW, tick=False)
def test_a_coordinator_moves_the_case_on_and_records_short_notice_from_the_case_page(tenant: Any) -> None:
    client = _client(tenant["coordinator"])
    case = tenant["case"]
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'value="not_arranged_30_days"' in page and 'value="scheduled"' not in page
    ids = re.findall(r'id="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    refused = client.post(f"/cases/{case.pk}/move/", {"to": "closed"})
    assert refused.status_code == 400 and "Choose one of the moves listed" in refused.content.decode()
    moved = client.post(f"/cases/{case.pk}/move/", {"to": "not_arranged_30_days", "reason": "no mediator free"})
    assert moved.status_code == 302
    case.refresh_from_db()
    assert case.state == "not_arranged_30_days" and case.certificate_due is not None
    assert client.post(f"/cases/{case.pk}/short-notice/", {"consent": "on"}).status_code == 302
    case.refresh_from_db()
    assert case.short_notice_consent
    client.post(f"/cases/{case.pk}/short-notice/", {})
    case.refresh_from_db()
    assert not case.short_notice_consent
    officer_of_another_tenant = helpers.tenant(today=TODAY)["coordinator"]
    assert _client(officer_of_another_tenant).post(f"/cases/{case.pk}/move/", {"to": "withdrawn"}).status_code == 404


@time_machine.travel(NOW, tick=False)
def test_the_case_page_offers_no_move_that_would_leave_things_wrong(tenant: Any) -> None:

    case = tenant["case"]
    _book(tenant)
    client = _client(tenant["coordinator"])
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'value="held"' not in page  # not before the meeting has begun
    withdrawn = client.post(f"/cases/{case.pk}/move/", {"to": "withdrawn", "reason": "family withdrew"})
    assert withdrawn.status_code == 409 and "cancel it first" in withdrawn.content.decode()
    case.refresh_from_db()
    assert case.state == "scheduled" and Meeting.objects.get(case=case).status == "confirmed"
    Case.objects.filter(pk=case.pk).update(state="declined", certificate_trigger="declined")
    assert 'value="certificate_issued"' not in client.get(f"/cases/{case.pk}/").content.decode()


@time_machine.travel(NOW, tick=False)
def test_a_coordinator_adds_and_removes_people_and_a_booked_meeting_follows(tenant: Any) -> None:

    from booking.models import MeetingAttendee, Participant
    from notifications.models import Message

    case = tenant["case"]
    _book(tenant)
    client = _client(tenant["coordinator"])
    bad = client.post(f"/cases/{case.pk}/people/", {"role": "school", "name": "Ms Head", "email": "not-an-email"})
    assert bad.status_code == 400 and "Enter an email address in the correct format" in bad.content.decode()
    assert not Participant.objects.filter(name="Ms Head").exists()
    added = client.post(
        f"/cases/{case.pk}/people/", {"role": "school", "name": "Ms Head", "email": "head@school.example"}
    )
    assert added.status_code == 302
    head = Participant.objects.get(case=case, name="Ms Head")
    assert head.preferred_channels == ["email"] and MeetingAttendee.objects.get(participant=head).active
    assert Message.objects.filter(to="head@school.example", kind="invitation").exists()
    assert client.post(f"/cases/{case.pk}/people/{head.pk}/remove/").status_code == 302
    assert Message.objects.filter(to="head@school.example", kind="cancellation", calendar_method="CANCEL").exists()
    stranger = _client(helpers.tenant(today=TODAY)["coordinator"])
    parent = case.participants.get(role="parent")
    assert stranger.post(f"/cases/{case.pk}/people/{parent.pk}/remove/").status_code == 404
    assert Participant.objects.filter(pk=parent.pk).exists()


@time_machine.travel(NOW, tick=False)
def test_the_slot_list_reaches_across_days(tenant: Any) -> None:
    page = _client(tenant["coordinator"]).get(f"/cases/{tenant['case'].pk}/slots/").content.decode()
    starts = re.findall(r'name="slot" type="checkbox" value="([^|"]+)\|', page) or re.findall(
        r'name="slot"[^>]*value="([^|"]+)\|', page
    )
    assert len(starts) == 20
    days = [start[:10] for start in starts]
    assert max(days.count(day) for day in set(days)) <= 3 and len(set(days)) >= 7
