"""Every change to resources' time locks them in one batch, in id order, so two changes cannot wait on each other in a
cycle; the periodic release of expired holds waits for nobody."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction

from booking import offers
from booking.offers import offer_create, offer_expire
from scheduling import occupancy
from scheduling.models import Occupancy
from scheduling.occupancy import holds_release_expired
from tests.booking import helpers

NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)


def _record_locks(monkeypatch: pytest.MonkeyPatch) -> list[set[int]]:
    """The resource ids of each lock_resources call, wherever it is called from (the real locking still happens)."""
    calls: list[set[int]] = []
    real = occupancy.lock_resources

    def recording(resource_ids: Any) -> None:
        ids = list(resource_ids)
        calls.append(set(ids))
        real(ids)

    monkeypatch.setattr(occupancy, "lock_resources", recording)
    monkeypatch.setattr(offers, "lock_resources", recording)
    return calls


@pytest.mark.django_db
def test_a_new_offer_locks_its_resources_and_those_of_the_offer_it_replaces_in_one_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Locking the replaced holds' resources first and the new slots' after, as two sorted batches, let a booking
    that locks one of each in id order deadlock with it."""
    t = helpers.tenant(today=date(2026, 11, 27))
    first = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    old, _ = offer_create(case=case, actor=None, now=NOW)
    old_resources = set(Occupancy.objects.filter(offer_slot__offer=old).values_list("resource_id", flat=True))
    first.active = False  # the new offer must use another mediator: its resources differ from the old holds'
    first.save()
    helpers.mediator(t, name="Second")
    calls = _record_locks(monkeypatch)
    new, _ = offer_create(case=case, actor=None, now=NOW)
    new_resources = set(Occupancy.objects.filter(offer_slot__offer=new).values_list("resource_id", flat=True))
    assert new_resources - old_resources, "the test needs resources the old offer did not hold"
    assert calls and calls[0] >= old_resources | new_resources
    assert all(later <= calls[0] for later in calls[1:])
    old.refresh_from_db()
    assert old.status == "withdrawn"
    assert not Occupancy.objects.filter(offer_slot__offer=old, active=True).exists()


@pytest.mark.django_db
def test_an_expiring_offer_locks_its_holds_resources_before_releasing_them(monkeypatch: pytest.MonkeyPatch) -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    helpers.mediator(t)
    offer, _ = offer_create(case=helpers.case(t, la_notified=date(2026, 11, 20)), actor=None, now=NOW)
    held = set(Occupancy.objects.filter(offer_slot__offer=offer).values_list("resource_id", flat=True))
    calls = _record_locks(monkeypatch)
    assert offer_expire(offer=offer, now=offer.expires_at + timedelta(minutes=1))
    assert calls == [held]
    assert not Occupancy.objects.filter(offer_slot__offer=offer, active=True).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_periodic_release_of_expired_holds_passes_over_a_hold_another_transaction_is_changing() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    helpers.mediator(t)
    offer, _ = offer_create(case=helpers.case(t, la_notified=date(2026, 11, 20)), actor=None, now=NOW)
    holds = Occupancy.objects.filter(offer_slot__offer=offer, active=True)
    holds.update(expires_at=NOW - timedelta(minutes=1))  # expired, and not yet released
    busy = holds.order_by("pk").first()
    others = holds.count() - 1
    assert others >= 1
    with helpers.held_by_another_transaction(lambda: list(Occupancy.objects.select_for_update().filter(pk=busy.pk))):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")  # waiting would fail the test, not hang it
            assert holds_release_expired(now=NOW) == others
    busy.refresh_from_db()
    assert busy.active and Occupancy.objects.filter(offer_slot__offer=offer, active=True).count() == 1
    assert holds_release_expired(now=NOW) == 1  # the next sweep releases it


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_person_joins_a_case_only_after_a_booking_in_progress_has_committed_and_is_invited() -> None:
    """A booking holds its case's lock from before it reads the people to after it commits: a person added meanwhile
    waits for it, then finds the meeting and is invited (read before the lock, they were never invited)."""
    import threading
    import time

    from booking.meetings import case_lock, meeting_book
    from booking.models import Case, MeetingAttendee
    from booking.services import participant_create
    from notifications.models import Message

    t = helpers.tenant(today=date(2026, 11, 27))
    m = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    start = datetime(2026, 12, 8, 10, tzinfo=UTC)
    locked = threading.Event()

    def book() -> None:
        try:
            with transaction.atomic():
                case_lock(case.pk)
                locked.set()
                time.sleep(0.5)  # the person is being added now, on the other connection
                meeting_book(case=Case.objects.get(pk=case.pk), actor=None, start=start, end=start + timedelta(hours=3),
                             mediator=m, room=None, mode="online", now=NOW)  # fmt: skip
        finally:
            connection.close()

    booking = threading.Thread(target=book)
    booking.start()
    assert locked.wait(10)
    person = participant_create(case=case, actor=None, role="supporter", name="Late Sup", email="late@example.org")
    booking.join(10)
    assert MeetingAttendee.objects.get(participant=person).active
    assert Message.objects.filter(to="late@example.org", kind="invitation").exists()
