"""Offers with holds, the family's pick by link, expiry, reschedule and cancel, through the API."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from booking.models import CaseEvent, Meeting, Offer
from scheduling.models import Occupancy
from scheduling.occupancy import overlapping_active_pairs
from tests.booking import helpers

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)


def _staff(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _booked_online() -> tuple[Any, APIClient, dict[str, Any]]:
    """A case with an online meeting on Monday 7 December, 10:00-13:00 UTC, booked by its coordinator."""
    t = helpers.tenant(today=date(2026, 11, 27))
    m = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    client = _staff(t["coordinator"])
    payload = {"start": "2026-12-07T10:00Z", "end": "2026-12-07T13:00Z", "mediator": m.pk, "mode": "online"}
    return case, client, client.post(f"/api/cases/{case.pk}/meetings/", payload, format="json").json()


def _offer(t: dict[str, Any], case: Any, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    response = _staff(t["coordinator"]).post(f"/api/cases/{case.pk}/offers/", payload or {}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@time_machine.travel(NOW, tick=False)
def test_an_offer_holds_three_separate_slots_on_every_resource() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    m = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    body = _offer(t, case)
    assert len(body["options"]) == 3
    starts = [o["start"] for o in body["options"]]
    assert len({s[:10] for s in starts}) == 3  # different days where possible
    raw = body["token"].split(":")[0].split(".", 1)[1]
    assert len(raw) * 6 >= 128  # url-safe base64: 6 bits a character
    assert body["booking_url"].endswith(f"/book/{body['token']}/")
    holds = Occupancy.objects.filter(kind="hold", active=True)
    assert holds.count() == 6  # mediator and LA officer, for each of 3 slots
    assert {h.resource.kind for h in holds} == {"mediator", "staff"}
    mediator_hold = holds.filter(resource__mediator=m).order_by("start").first()
    first = Offer.objects.get().slots.order_by("start").first()
    assert (first.start - mediator_hold.start).seconds == 15 * 60  # the buffer before
    case.refresh_from_db()
    assert case.state == "scheduling"
    assert overlapping_active_pairs() == 0


@time_machine.travel(NOW, tick=False)
def test_the_family_picks_a_slot_and_the_other_holds_are_released() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    body = _offer(t, case)
    family = APIClient()
    view = family.get(f"/api/offers/{body['token']}/")
    assert view.status_code == 200
    assert "case" not in view.json() and all("mediator" not in o for o in view.json()["options"])
    chosen = body["options"][1]
    accepted = family.post(f"/api/offers/{body['token']}/accept/", {"slot": chosen["slot"]}, format="json")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["start"] == chosen["start"]
    meeting = Meeting.objects.get(case=case)
    assert meeting.status == "confirmed" and meeting.sequence == 0
    assert set(Occupancy.objects.filter(active=True).values_list("kind", "meeting_id")) == {("meeting", meeting.pk)}
    assert Occupancy.objects.filter(active=True).count() == 2
    case.refresh_from_db()
    assert case.state == "scheduled"
    again = family.post(f"/api/offers/{body['token']}/accept/", {"slot": chosen["slot"]}, format="json")
    assert again.status_code == 409


def test_every_offered_time_can_be_chosen_until_the_offer_expires() -> None:
    """The notice of each time runs from the day of the offer, which named it: the earliest times sit on the 5th
    working day after the offer, and the family may choose on the offer's last day."""
    with time_machine.travel(NOW, tick=False):  # Friday 27 November
        t = helpers.tenant(today=date(2026, 11, 27))
        helpers.mediator(t)
        case = helpers.case(t, la_notified=date(2026, 11, 20))
        body = _offer(t, case)
        first = body["options"][0]
        assert first["start"].startswith("2026-12-04")  # the 5th working day after the offer
        offer = Offer.objects.get()
    last_day = offer.expires_at.replace(hour=9)  # Wednesday 2 December, before the offer expires at 10:00
    with time_machine.travel(last_day, tick=False):
        accepted = APIClient().post(f"/api/offers/{body['token']}/accept/", {"slot": first["slot"]}, format="json")
    assert accepted.status_code == 200, accepted.content
    assert Meeting.objects.get().notice_given_on == date(2026, 11, 27)
    # A booking made today, for the same kind of time, still needs 5 working days from today.
    with time_machine.travel(last_day, tick=False):
        other = helpers.case(t, la_notified=date(2026, 11, 20), officer=False)
        mediator = offer.slots.first().mediator_id
        direct = {"start": "2026-12-07T10:00Z", "end": "2026-12-07T13:00Z", "mediator": mediator}
        refused = _staff(t["coordinator"]).post(
            f"/api/cases/{other.pk}/meetings/", {**direct, "mode": "online"}, format="json"
        )
    assert refused.status_code == 409 and "5 working days" in refused.json()["message"]


@time_machine.travel(NOW, tick=False)
def test_a_tampered_or_foreign_link_is_refused() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    helpers.mediator(t)
    case_a = helpers.case(t, la_notified=date(2026, 11, 20), officer=False)
    case_b = helpers.case(t, la_notified=date(2026, 11, 20), officer=False)
    a, b = _offer(t, case_a), _offer(t, case_b, {"count": 1})
    family = APIClient()
    tampered = a["token"][:-2] + ("AA" if not a["token"].endswith("AA") else "BB")
    assert family.get(f"/api/offers/{tampered}/").status_code == 404
    assert family.get("/api/offers/not-a-token/").status_code == 404
    wrong_slot = family.post(f"/api/offers/{b['token']}/accept/", {"slot": a["options"][0]["slot"]}, format="json")
    assert wrong_slot.status_code == 400
    assert not Meeting.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_an_expired_offer_is_a_410_its_holds_go_and_the_coordinator_is_told() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    body = _offer(t, case)
    # Friday 27 Nov + 3 working days = Wednesday 2 Dec, same time of day.
    assert body["expires_at"] == "2026-12-02T10:00:00+00:00"
    with time_machine.travel(datetime(2026, 12, 2, 10, 1, tzinfo=UTC), tick=False):
        response = APIClient().post(
            f"/api/offers/{body['token']}/accept/", {"slot": body["options"][0]["slot"]}, format="json"
        )
    assert response.status_code == 410
    assert "expired" in response.json()["message"]
    assert Offer.objects.get().status == "expired"
    assert not Occupancy.objects.filter(active=True).exists()
    assert CaseEvent.objects.filter(case=case, details__coordinator_alert=True).exists()
    with time_machine.travel(datetime(2026, 12, 2, 10, 1, tzinfo=UTC), tick=False):
        shown = APIClient().get(f"/api/offers/{body['token']}/")
    assert shown.status_code == 410 and "options" not in shown.json()


@time_machine.travel(NOW, tick=False)
def test_the_link_of_a_replaced_or_used_offer_shows_no_times() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    old, new = _offer(t, case), _offer(t, case)  # the second replaces the first
    family = APIClient()
    replaced = family.get(f"/api/offers/{old['token']}/")
    assert replaced.status_code == 409 and "no longer used" in replaced.json()["message"]
    assert "options" not in replaced.json()
    chosen = new["options"][2]
    assert (
        family.post(f"/api/offers/{new['token']}/accept/", {"slot": chosen["slot"]}, format="json").status_code == 200
    )
    used = family.get(f"/api/offers/{new['token']}/").json()
    assert used["status"] == "accepted" and "options" not in used
    assert (used["meeting"]["start"], used["meeting"]["status"]) == (chosen["start"], "confirmed")
    # A used link goes on showing its meeting after the time the offer would have expired.
    with time_machine.travel(datetime(2026, 12, 2, 10, 1, tzinfo=UTC), tick=False):
        assert family.get(f"/api/offers/{new['token']}/").status_code == 200


@time_machine.travel(NOW, tick=False)
def test_a_slot_taken_in_the_meantime_is_a_409_with_the_options_still_open() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    body = _offer(t, case)
    first = body["options"][0]
    # The first slot's holds were lost (say, released by hand) and another case booked that time.
    Occupancy.objects.filter(offer_slot_id=first["slot"]).update(active=False)
    other = helpers.case(t, la_notified=date(2026, 11, 20))
    mediator_id = Offer.objects.get().slots.get(pk=first["slot"]).mediator_id
    booked = _staff(t["coordinator"]).post(
        f"/api/cases/{other.pk}/meetings/",
        {"start": first["start"], "end": first["end"], "mediator": mediator_id, "mode": "online"},
        format="json",
    )
    assert booked.status_code == 201, booked.content
    response = APIClient().post(f"/api/offers/{body['token']}/accept/", {"slot": first["slot"]}, format="json")
    assert response.status_code == 409
    assert response.json()["extra"]["options"] == [o["slot"] for o in body["options"][1:]]
    assert Offer.objects.get().status == "open"
    assert Occupancy.objects.filter(offer_slot__offer__case=case, active=True).count() == 4
    assert overlapping_active_pairs() == 0


@time_machine.travel(NOW, tick=False)
def test_a_coordinator_can_offer_chosen_slots_but_not_busy_ones() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    m = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    choice = {
        "start": "2026-12-07T13:00Z",
        "end": "2026-12-07T16:00Z",
        "mediator": m.pk,
        "mode": "in_person",
        "room": t["room"].pk,
    }
    body = _offer(t, case, {"slots": [choice]})
    assert body["options"][0]["venue"]["name"] == "Hall"
    other = helpers.case(t, la_notified=date(2026, 11, 20))
    clash = _staff(t["coordinator"]).post(f"/api/cases/{other.pk}/offers/", {"slots": [choice]}, format="json")
    assert clash.status_code == 409
    off_grid = {**choice, "start": "2026-12-08T13:07Z", "end": "2026-12-08T16:07Z"}
    assert (
        _staff(t["coordinator"])
        .post(f"/api/cases/{other.pk}/offers/", {"slots": [off_grid]}, format="json")
        .status_code
        == 409
    )


@time_machine.travel(NOW, tick=False)
def test_another_tenants_room_cannot_be_offered_or_booked_and_nothing_is_held() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    m = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    stranger = helpers.tenant(today=date(2026, 11, 27))  # another provider, with its own venue and room
    choice = {
        "start": "2026-12-07T13:00Z",
        "end": "2026-12-07T16:00Z",
        "mediator": m.pk,
        "mode": "in_person",
        "room": stranger["room"].pk,
    }
    client = _staff(t["coordinator"])
    offered = client.post(f"/api/cases/{case.pk}/offers/", {"slots": [choice]}, format="json")
    assert offered.status_code == 409, offered.content
    assert "Hall" not in offered.content.decode() and "1 Street" not in offered.content.decode()
    booked = client.post(f"/api/cases/{case.pk}/meetings/", choice, format="json")
    assert booked.status_code == 400 and booked.json()["extra"]["fields"]["room"] == ["Not a room this case can use."]
    assert not Occupancy.objects.exists() and not Offer.objects.exists() and not Meeting.objects.exists()
    # the case's own room, chosen, is the one offered
    own = _offer(t, case, {"slots": [{**choice, "room": t["room"].pk}]})
    assert Offer.objects.get().slots.get().room_id == t["room"].pk and own["options"][0]["venue"]["name"] == "Hall"


@time_machine.travel(NOW, tick=False)
def test_booking_inside_the_notice_period_is_refused_without_consent() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    m = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    payload = {"start": "2026-12-02T10:00Z", "end": "2026-12-02T13:00Z", "mediator": m.pk, "mode": "online"}
    refused = _staff(t["coordinator"]).post(f"/api/cases/{case.pk}/meetings/", payload, format="json")
    assert refused.status_code == 409
    assert "5 working days" in refused.json()["message"]
    case.short_notice_consent = True
    case.save()
    assert _staff(t["coordinator"]).post(f"/api/cases/{case.pk}/meetings/", payload, format="json").status_code == 201
    # The agreement was for that date: it is spent on it, and another short-notice date needs it again.
    case.refresh_from_db()
    assert not case.short_notice_consent
    assert CaseEvent.objects.filter(case=case, details__short_notice=True).exists()
    meeting = Meeting.objects.get(case=case)
    moved = _staff(t["coordinator"]).patch(
        f"/api/meetings/{meeting.pk}/", {"start": "2026-12-03T10:00Z", "end": "2026-12-03T13:00Z"}, format="json"
    )
    assert moved.status_code == 409 and "5 working days" in moved.json()["message"]


@time_machine.travel(NOW, tick=False)
def test_reschedule_moves_every_occupancy_and_cancel_releases_them() -> None:
    case, client, meeting = _booked_online()
    moved = client.patch(
        f"/api/meetings/{meeting['id']}/", {"start": "2026-12-08T10:00Z", "end": "2026-12-08T13:00Z"}, format="json"
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["sequence"] == 1 and moved.json()["uid"] == meeting["uid"]
    active = Occupancy.objects.filter(active=True)
    assert active.count() == 2 and all(o.start.day == 8 for o in active)
    cancelled = client.post(
        f"/api/meetings/{meeting['id']}/cancel/", {"cancelled_by": "la", "reason": "officer ill"}, format="json"
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["cancelled_by"] == "la" and cancelled.json()["sequence"] == 2
    assert not Occupancy.objects.filter(active=True).exists()
    case.refresh_from_db()
    assert case.state == "scheduling"
    assert CaseEvent.objects.filter(case=case, reason__contains="cancelled by Local authority").exists()
    again = client.post(f"/api/meetings/{meeting['id']}/cancel/", {"cancelled_by": "la", "reason": "x"}, format="json")
    assert again.status_code == 409


@time_machine.travel(NOW, tick=False)
def test_when_30_days_cannot_be_met_the_case_stays_schedulable_after_the_due_date() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 3))  # due 3 December, inside the notice period
    client = _staff(t["coordinator"])
    refused = client.post(f"/api/cases/{case.pk}/offers/", {}, format="json")
    assert refused.status_code == 409
    assert refused.json()["extra"]["statutory_path"] == {"to": "not_arranged_30_days"}
    # The coordinator may offer late times without the statutory move (the LA may yet record it).
    late = client.post(f"/api/cases/{case.pk}/offers/", {"allow_late": True, "count": 1}, format="json")
    assert late.status_code == 201 and late.json()["options"][0]["start"].startswith("2026-12-04")
    moved = client.post(f"/api/cases/{case.pk}/transitions/", {"to": "not_arranged_30_days"}, format="json")
    assert moved.status_code == 200
    assert moved.json()["deadlines"]["certificate"]["due"] == "2026-12-02"
    offer = client.post(f"/api/cases/{case.pk}/offers/", {}, format="json")
    assert offer.status_code == 201
    assert offer.json()["options"][0]["start"].startswith("2026-12-04")


@time_machine.travel(NOW, tick=False)
def test_matching_ranks_the_eligible_and_says_why_the_others_are_excluded() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    good = helpers.mediator(t, name="Good")
    expired = helpers.mediator(t, name="Lapsed", accreditation_expires=date(2026, 1, 1))
    employed = helpers.mediator(t, name="Employed")
    employed.employers.add(t["la"])
    no_health = helpers.mediator(t, name="General")
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    body = _staff(t["coordinator"]).get(f"/api/cases/{case.pk}/mediator-matches/").json()
    by_name = {m["mediator"]["name"]: m for m in body["matches"]}
    assert by_name["Good"]["eligible"] and by_name["General"]["eligible"]
    assert by_name["Lapsed"]["excluded_by"][0]["rule"] == "accreditation"
    assert by_name["Employed"]["excluded_by"][0]["rule"] == "independence"
    assert body["matches"][0]["eligible"] and body["matches"][0]["earliest_slot"] == "2026-12-04T09:30:00+00:00"
    refused = _staff(t["coordinator"]).post(f"/api/cases/{case.pk}/mediator/", {"mediator": expired.pk}, format="json")
    assert refused.status_code == 409
    assigned = _staff(t["coordinator"]).post(f"/api/cases/{case.pk}/mediator/", {"mediator": good.pk}, format="json")
    assert assigned.status_code == 200
    assert CaseEvent.objects.filter(case=case, kind="mediator_assigned", details__to=good.pk).exists()
    assert no_health.pk


@time_machine.travel(NOW, tick=False)
def test_the_mediator_is_not_changed_under_a_meeting_or_an_open_offer_with_another() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    first, second = helpers.mediator(t, "Mia"), helpers.mediator(t, "Noor")
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    client = _staff(t["coordinator"])
    assign = f"/api/cases/{case.pk}/mediator/"
    _offer(t, case, {"slots": [{"start": "2026-12-07T10:00Z", "end": "2026-12-07T13:00Z", "mediator": first.pk,
                                "mode": "online"}]})  # fmt: skip
    refused = client.post(assign, {"mediator": second.pk}, format="json")
    assert refused.status_code == 409 and "open offer" in refused.json()["message"]
    assert client.post(assign, {"mediator": first.pk}, format="json").status_code == 200
    payload = {"start": "2026-12-08T10:00Z", "end": "2026-12-08T13:00Z", "mediator": first.pk, "mode": "online"}
    assert client.post(f"/api/cases/{case.pk}/meetings/", payload, format="json").status_code == 201
    refused = client.post(assign, {"mediator": second.pk}, format="json")
    assert refused.status_code == 409 and "confirmed meeting" in refused.json()["message"]
    case.refresh_from_db()
    assert case.mediator_id == first.pk
    assert not CaseEvent.objects.filter(case=case, kind="mediator_assigned", details__to=second.pk).exists()


@time_machine.travel(NOW, tick=False)
def test_a_time_without_an_offset_is_uk_time() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    m = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    case.mediation_due = date(2027, 12, 31)
    case.save(update_fields=["mediation_due"])
    naive = {"start": "2027-06-14T10:00:00", "end": "2027-06-14T13:00:00", "mediator": m.pk, "mode": "online"}
    booked = _staff(t["coordinator"]).post(f"/api/cases/{case.pk}/meetings/", naive, format="json")
    assert booked.status_code == 201, booked.content
    assert Meeting.objects.get().start == datetime(2027, 6, 14, 9, tzinfo=UTC)  # 10am British Summer Time


@time_machine.travel(NOW, tick=False)
def test_a_meeting_moves_only_to_a_time_everyone_it_needs_is_working() -> None:
    case, client, meeting = _booked_online()
    url = f"/api/meetings/{meeting['id']}/"
    for start, end in [
        ("2026-12-13T02:00Z", "2026-12-13T05:00Z"),  # 2am on a Sunday
        ("2026-12-25T10:00Z", "2026-12-25T13:00Z"),  # Christmas Day
        ("2026-12-08T19:00Z", "2026-12-08T22:00Z"),  # a Tuesday evening
    ]:
        refused = client.patch(url, {"start": start, "end": end}, format="json")
        assert refused.status_code == 409, (start, refused.content)
        assert "working hours" in refused.json()["message"]
    assert Meeting.objects.get().sequence == 0
    assert {o.start.day for o in Occupancy.objects.filter(active=True)} == {7}
    # An hour later on the same day overlaps the meeting's own time, which counts as free.
    moved = client.patch(url, {"start": "2026-12-07T11:00Z", "end": "2026-12-07T14:00Z"}, format="json")
    assert moved.status_code == 200, moved.content
    # A new start alone keeps the meeting's length; an end before the start is a 400.
    shifted = client.patch(url, {"start": "2026-12-07T10:30Z"}, format="json")
    assert shifted.status_code == 200, shifted.content
    assert Meeting.objects.get().end == datetime(2026, 12, 7, 13, 30, tzinfo=UTC)
    backwards = client.patch(url, {"end": "2026-12-07T09:00Z"}, format="json")
    assert backwards.status_code == 400 and "end" in backwards.json()["extra"]["fields"]
    nothing = client.patch(url, {}, format="json")  # re-sending everyone the same meeting would be noise
    assert nothing.status_code == 400 and Meeting.objects.get().sequence == 2
    # The family would rather meet in person, but this meeting is online, as agreed: it can still move.
    case.participants.filter(role="parent").update(meeting_preference="in_person")
    online = client.patch(url, {"start": "2026-12-08T10:00Z", "end": "2026-12-08T13:00Z"}, format="json")
    assert online.status_code == 200, online.content


@time_machine.travel(NOW, tick=False)
def test_chosen_times_are_at_most_six_and_do_not_overlap() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    m = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    client = _staff(t["coordinator"])
    url = f"/api/cases/{case.pk}/offers/"

    def at(day: int, hour: int) -> dict[str, Any]:
        return {"start": f"2026-12-{day:02d}T{hour:02d}:00Z", "end": f"2026-12-{day:02d}T{hour + 3:02d}:00Z",
                "mediator": m.pk, "mode": "online"}  # fmt: skip

    seven = client.post(url, {"slots": [at(day, 10) for day in (7, 8, 9, 10, 11, 14, 15)]}, format="json")
    assert seven.status_code == 400 and "slots" in seven.json()["extra"]["fields"]
    overlapping = client.post(url, {"slots": [at(7, 9), at(8, 10), at(7, 11)]}, format="json")
    assert overlapping.status_code == 400, overlapping.content
    assert overlapping.json()["message"] == "Times 1 and 3 overlap: choose times that do not."
    back_to_back = client.post(url, {"slots": [at(7, 9), at(7, 12)]}, format="json")  # the mediator's buffers meet
    assert back_to_back.status_code == 400 and "overlap" in back_to_back.json()["message"]
    assert not Offer.objects.exists() and not Occupancy.objects.exists()


def test_an_offer_expires_at_the_same_uk_time_of_day_across_a_change_of_the_clocks() -> None:
    made = datetime(2027, 10, 28, 10, tzinfo=UTC)  # Thursday 11am BST; the clocks go back on Sunday 31 October
    with time_machine.travel(made, tick=False):
        t = helpers.tenant(today=date(2027, 10, 28))
        helpers.mediator(t, accreditation_expires=date(2030, 1, 1))
        case = helpers.case(t, la_notified=date(2027, 10, 25))
        body = _offer(t, case, {"count": 1})
    assert body["expires_at"] == "2027-11-02T11:00:00+00:00"  # Tuesday 11am GMT, 3 working days on
