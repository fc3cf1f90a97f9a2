"""The family's pages through Django's test client: status codes, what is written, what is never shown."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from booking.models import CaseEvent, Meeting, Offer, Participant
from booking.offers import offer_create
from notifications.models import Message
from tests.web.conftest import NOW, TODAY
from tests.web.factories import offered_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def offered() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield offered_case(today=TODAY, now=NOW)


def _url(token: str, rest: str = "") -> str:
    return f"/book/{token}/{rest}"


@time_machine.travel(NOW, tick=False)
def test_it_lists_the_offered_times_in_plain_english_and_nothing_about_the_case(offered: Any) -> None:
    _, case, offer, token = offered
    response = Client().get(_url(token))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Choose a time for your mediation meeting" in body
    first = offer.slots.order_by("rank").first()
    assert f'value="{first.pk}"' in body
    assert "Friday 4 December, 9:30am to 12:30pm" in body or "December" in body
    for secret in ("Secret Child", "Secret dispute text", case.reference, "Sam Parent"):
        assert secret not in body
    assert 'lang="en-GB"' in body and "Skip to main content" in body


@time_machine.travel(NOW, tick=False)
def test_the_family_confirms_a_time_and_says_what_they_need(offered: Any) -> None:
    _, case, offer, token = offered
    case.participants.filter(role="parent").update(access_notes="Step-free entrance")  # the coordinator's note
    slot = offer.slots.order_by("rank")[1]
    response = Client().post(
        _url(token),
        {
            "slot": slot.pk,
            "attendance": "online",
            "supporter_name": "Pat Friend",
            "supporter_relationship": "aunt",
            "interpreter_language": "Polish",
            "adjustments": "Breaks every hour",
        },
    )
    assert response.status_code == 302 and response["Location"].endswith("?done=booked")
    meeting = Meeting.objects.get(case=case)
    assert meeting.status == "confirmed" and meeting.start == slot.start
    parent = case.participants.get(role="parent")
    assert parent.interpreter_language == "Polish" and parent.access_notes == "Step-free entrance\nBreaks every hour"
    assert parent.meeting_preference == "online"
    supporter = case.participants.get(role="supporter")
    assert (supporter.name, supporter.relationship, supporter.required) == ("Pat Friend", "aunt", False)
    assert meeting.attendees.get(participant=supporter).active  # the supporter is invited with everyone else
    page = Client().get(response["Location"])
    assert page.status_code == 200
    assert "Your meeting is booked" in page.content.decode()
    assert CaseEvent.objects.filter(case=case, details__by="family").exists()


@time_machine.travel(NOW, tick=False)
def test_bad_input_shows_the_error_summary_and_writes_nothing(offered: Any) -> None:
    _, case, _, token = offered
    participants = Participant.objects.count()
    response = Client().post(_url(token), {"supporter_relationship": "aunt"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "There is a problem" in body and "<title>Error:" in body
    assert 'href="#id_slot_0">Choose a time for the meeting' in body
    assert 'href="#id_supporter_name">Enter your supporter’s name' in body
    assert not Meeting.objects.exists()
    assert Participant.objects.count() == participants
    assert Offer.objects.get(case=case).status == "open"


@time_machine.travel(NOW, tick=False)
def test_an_online_time_cannot_be_attended_in_person(offered: Any) -> None:
    _, case, offer, token = offered
    slot = offer.slots.first()
    slot.mode, slot.room = "online", None
    slot.save()
    response = Client().post(_url(token), {"slot": slot.pk, "attendance": "in_person"})
    assert response.status_code == 400
    assert "This time is online only" in response.content.decode()
    assert not Meeting.objects.exists()


def test_an_unknown_or_tampered_link_is_404() -> None:
    assert Client().get(_url("nonsense")).status_code == 404
    response = Client().get(_url("1.abc:tampered"))
    assert response.status_code == 404
    assert "We cannot find this booking link" in response.content.decode()


def test_an_expired_link_is_410_says_what_happened_and_alerts_the_coordinator(offered: Any) -> None:
    _, case, offer, token = offered
    with time_machine.travel(offer.expires_at + timedelta(minutes=1), tick=False):
        response = Client().get(_url(token))
        assert response.status_code == 410
        body = response.content.decode()
        assert "This booking link has expired" in body and "0300 123 4567" in body
        posted = Client().post(_url(token), {"slot": offer.slots.first().pk})
    assert posted.status_code == 410
    offer.refresh_from_db()
    assert offer.status == "expired"
    assert CaseEvent.objects.filter(case=case, details__coordinator_alert=True).exists()
    assert not Meeting.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_a_withdrawn_link_is_409(offered: Any) -> None:
    t, case, _, token = offered
    offer_create(case=case, actor=t["coordinator"], now=NOW)  # a new offer withdraws the old one
    response = Client().get(_url(token))
    assert response.status_code == 409
    assert "no longer used" in response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_a_second_press_or_a_pick_after_back_lands_on_the_booked_meeting(offered: Any) -> None:
    _, _, offer, token = offered
    first, other = offer.slots.order_by("start")[:2]
    assert Client().post(_url(token), {"slot": first.pk}).status_code == 302
    shown = Client().get(_url(token))
    assert shown.status_code == 200 and "Your mediation meeting" in shown.content.decode()
    for slot in (first, other):  # pressed again, or Back and another time chosen
        again = Client().post(_url(token), {"slot": slot.pk})
        assert again.status_code == 302 and again["Location"].endswith("?done=booked")
    booked = Client().get(again["Location"])
    assert "Your meeting is booked" in booked.content.decode()
    assert Meeting.objects.get().start == first.start


@time_machine.travel(NOW, tick=False)
def test_the_calendar_file_is_the_meeting_with_its_uid(offered: Any) -> None:
    _, case, offer, token = offered
    assert Client().get(_url(token, "calendar.ics")).status_code == 302  # nothing booked yet
    Client().post(_url(token), {"slot": offer.slots.first().pk})
    response = Client().get(_url(token, "calendar.ics"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content.decode()
    meeting = Meeting.objects.get(case=case)
    assert f"UID:{meeting.uid}" in body.replace("\r\n ", "")
    assert "Secret" not in body and "SUMMARY:Mediation meeting" in body
    unfolded = body.replace("\r\n ", "")
    assert "METHOD:PUBLISH" in unfolded and "ATTENDEE" not in unfolded  # a copy to keep, not an invitation
    assert token not in unfolded and "/book/" not in unfolded  # the link that can cancel stays in the email


@time_machine.travel(NOW, tick=False)
def test_i_cannot_make_this_time_alerts_the_coordinator_and_keeps_the_meeting(offered: Any) -> None:
    _, case, offer, token = offered
    Client().post(_url(token), {"slot": offer.slots.first().pk})
    assert Client().get(_url(token, "new-time/")).status_code == 200
    response = Client().post(_url(token, "new-time/"), {"reason": "School play"})
    assert response.status_code == 302 and response["Location"].endswith("?done=new-time")
    event = CaseEvent.objects.get(case=case, details__request="new_time")
    assert event.details["coordinator_alert"] is True and "School play" in event.reason
    alert = Message.objects.get(kind="coordinator_alert", case=case)
    assert alert.to == "bookings@provider.example.org" and "School play" not in str(alert.context)
    assert Meeting.objects.get(case=case).status == "confirmed"
    assert "We have told your case coordinator" in Client().get(response["Location"]).content.decode()


@time_machine.travel(NOW, tick=False)
def test_the_family_cancels_with_a_reason(offered: Any) -> None:
    _, case, offer, token = offered
    Client().post(_url(token), {"slot": offer.slots.first().pk})
    empty = Client().post(_url(token, "cancel/"), {"reason": ""})
    assert empty.status_code == 400 and "Tell us why you are cancelling" in empty.content.decode()
    assert Meeting.objects.get(case=case).status == "confirmed"
    response = Client().post(_url(token, "cancel/"), {"reason": "We have agreed with the council"})
    assert response.status_code == 302
    meeting = Meeting.objects.get(case=case)
    assert (meeting.status, meeting.cancelled_by) == ("cancelled", "family")
    alert = Message.objects.get(kind="coordinator_alert", case=case)
    assert "cancelled" in alert.context["problem"] and "council" not in str(alert.context)
    case.refresh_from_db()
    assert case.state == "scheduling"
    assert "Your meeting is cancelled" in Client().get(response["Location"]).content.decode()
    assert Client().post(_url(token, "cancel/"), {"reason": "again"}).status_code == 409


@time_machine.travel(NOW, tick=False)
def test_family_posts_need_the_csrf_token(offered: Any) -> None:
    _, _, offer, token = offered
    client = Client(enforce_csrf_checks=True)
    assert client.post(_url(token), {"slot": offer.slots.first().pk}).status_code == 403
    assert not Meeting.objects.exists()
