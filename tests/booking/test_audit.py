"""The audit trail: reads and writes through the API, pages and admin are recorded; the trail cannot be changed."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory

from booking import audit
from booking.models import AuditEvent, AuditRefused

pytestmark = pytest.mark.django_db


def _rows(case: Any) -> list[tuple[str, str, str, list[str]]]:
    return [(e.actor_label, e.action, e.object_type, e.fields) for e in AuditEvent.objects.filter(case_id_ref=case.pk)]


@time_machine.travel("2026-11-27T10:00:00Z", tick=False)
def test_api_reads_and_writes_are_recorded_with_field_names_only(world: Any, api: Any) -> None:
    case = world.case_a
    AuditEvent.objects.filter(case_id_ref=case.pk)  # fixture writes are recorded too, as "system"
    before = AuditEvent.objects.count()
    alice = api(world.coordinator_a)
    assert alice.get(f"/api/cases/{case.pk}/").status_code == 200
    response = alice.patch(
        f"/api/cases/{case.pk}/", {"issues": "Secret dispute text", "child_name": "Quill"}, format="json"
    )
    assert response.status_code == 200
    assert (
        alice.post(
            f"/api/cases/{case.pk}/participants/", {"role": "observer", "name": "Olu"}, format="json"
        ).status_code
        == 201
    )
    assert alice.delete(f"/api/cases/{case.pk}/participants/{world.participant_a.pk}/").status_code == 204
    new = list(AuditEvent.objects.order_by("id")[before:])
    summary = [(e.actor_label, e.action, e.object_type, e.via) for e in new]
    assert ("alice", "view", "case", "api") in summary
    assert ("alice", "create", "participant", "api") in summary
    assert ("alice", "delete", "participant", "api") in summary
    change = next(e for e in new if e.action == "change" and e.object_type == "case")
    assert {"issues", "child_name"} <= set(change.fields)
    assert change.path == f"/api/cases/{case.pk}/" and change.actor_id == world.coordinator_a.pk
    stored = str(list(AuditEvent.objects.values()))
    assert "Secret dispute text" not in stored and "Quill" not in stored


@time_machine.travel("2026-11-27T10:00:00Z", tick=False)
def test_a_refused_write_and_another_tenants_read_leave_no_record(world: Any, api: Any) -> None:
    before = AuditEvent.objects.count()
    url = f"/api/cases/{world.case_a.pk}/"
    assert api(world.coordinator_a).patch(url, {"decision_sent": "2099-01-01"}, format="json").status_code == 400
    assert api(world.coordinator_b).get(url).status_code == 404
    assert AuditEvent.objects.count() == before


def test_meeting_reads_are_recorded_against_their_case(world: Any, api: Any) -> None:
    assert api(world.coordinator_a).get(f"/api/meetings/{world.meeting_a.pk}/").status_code == 200
    event = AuditEvent.objects.filter(action="view").latest("id")
    assert (event.object_type, event.object_id, event.case_id_ref) == ("meeting", world.meeting_a.pk, world.case_a.pk)


def test_admin_views_and_pages_are_recorded(world: Any) -> None:
    from django.contrib.auth import get_user_model

    admin_user = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    browser = Client()
    browser.force_login(admin_user)
    assert browser.get(f"/admin/booking/case/{world.case_a.pk}/change/").status_code == 200
    event = AuditEvent.objects.filter(action="view").latest("id")
    assert (event.actor_label, event.via, event.object_type, event.object_id) == (
        "root",
        "admin",
        "case",
        world.case_a.pk,
    )
    browser.force_login(world.coordinator_a)
    response = browser.get(f"/cases/{world.case_a.pk}/")
    if response.status_code == 200:  # the staff pages
        event = AuditEvent.objects.filter(action="view").latest("id")
        assert (event.via, event.object_type) == ("page", "case")


def test_the_trail_refuses_changes_and_deletes(world: Any) -> None:
    event = AuditEvent.objects.first()
    assert event is not None
    event.actor_label = "someone else"
    with pytest.raises(AuditRefused):
        event.save()
    with pytest.raises(AuditRefused):
        event.delete()
    with pytest.raises(AuditRefused):
        AuditEvent.objects.filter(pk=event.pk).update(actor_label="x")
    with pytest.raises(AuditRefused):
        AuditEvent.objects.all().delete()
    event.refresh_from_db()
    assert event.actor_label != "someone else"
    from django.contrib import admin

    model_admin = admin.site._registry[AuditEvent]
    request = RequestFactory().get("/admin/")
    assert not model_admin.has_change_permission(request) and not model_admin.has_delete_permission(request)


def test_only_the_case_coordinators_read_the_trail(world: Any, api: Any) -> None:
    url = f"/api/cases/{world.case_a.pk}/audit/"
    body = api(world.coordinator_a).get(url).json()
    assert body["count"] >= 1 and {"actor", "action", "object_type", "fields"} <= set(body["results"][0])
    assert api(world.la_officer_a).get(url).status_code == 200
    assert api(world.mediator_user_a).get(url).status_code == 403
    assert api(world.coordinator_b).get(url).status_code == 404


def test_who_acted_without_an_account() -> None:
    factory = RequestFactory()
    family = factory.post("/api/offers/abc/accept/")
    family.user = AnonymousUser()
    webhook = factory.post("/webhooks/twilio/status/")
    webhook.user = AnonymousUser()
    assert audit._actor(family)[1:] == ("family_link", "family link")
    assert audit._actor(webhook)[1:] == ("system", "system")
    assert audit._actor(None)[1:] == ("system", "system")


@pytest.mark.django_db
def test_a_family_reading_their_page_by_link_is_audited() -> None:
    from datetime import UTC, date, datetime

    import time_machine
    from django.test import Client

    from booking import offers
    from booking.models import AuditEvent
    from tests.booking import helpers as h

    with time_machine.travel(datetime(2026, 11, 27, 10, tzinfo=UTC), tick=False):
        t = h.tenant(today=date(2026, 11, 27))
        h.mediator(t)
        case = h.case(t, la_notified=date(2026, 11, 20))
        _, token = offers.offer_create(case=case, actor=t["coordinator"], now=datetime(2026, 11, 27, 10, tzinfo=UTC))
        assert Client().get(f"/book/{token}/").status_code == 200
    event = AuditEvent.objects.filter(action="view", case_id_ref=case.pk).latest("at")
    assert (event.actor_kind, event.object_type, event.via) == ("family_link", "case", "page")
