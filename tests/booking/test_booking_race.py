"""Races with real concurrency: threads with their own database connections, started together.

Runs on SQLite (writers serialised by IMMEDIATE transactions) and on PostgreSQL (the exclusion constraint).
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from booking.meetings import meeting_book
from booking.models import Meeting, Participant
from core.errors import ConflictError
from core.models import Membership
from scheduling.models import Occupancy
from scheduling.occupancy import overlapping_active_pairs, resource_for_mediator, resource_for_user
from tests.booking import helpers

NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)
START = datetime(2026, 12, 8, 10, tzinfo=UTC)


def _race(jobs: list[Any]) -> tuple[int, int, list[BaseException]]:
    barrier = threading.Barrier(len(jobs))
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(job: Any) -> None:
        try:
            barrier.wait()
            job()
            result = "booked"
        except ConflictError:
            result = "conflict"
        except BaseException as exc:  # noqa: BLE001 - every other outcome is a failure of the test
            with lock:
                errors.append(exc)
            result = "error"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes.count("booked"), outcomes.count("conflict"), errors


@pytest.mark.django_db(transaction=True)
def test_fifty_clients_booking_one_mediator_give_one_booking_and_49_conflicts() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    mediator = helpers.mediator(t)
    resource_for_mediator(mediator)
    cases = [helpers.case(t, la_notified=date(2026, 11, 20), officer=False) for _ in range(50)]

    def job(i: int) -> Any:
        start = START + timedelta(minutes=15 * (i % 5))
        return lambda: meeting_book(
            case=cases[i],
            actor=None,
            start=start,
            end=start + timedelta(hours=3),
            mediator=mediator,
            room=None,
            mode="online",
            now=NOW,
        )

    booked, conflicts, errors = _race([job(i) for i in range(50)])
    assert errors == []
    assert (booked, conflicts) == (1, 49)
    assert Meeting.objects.filter(status="confirmed").count() == 1
    assert Occupancy.objects.filter(active=True).count() == 1
    assert overlapping_active_pairs() == 0


@pytest.mark.django_db(transaction=True)
def test_a_multi_party_race_leaves_no_partial_reservation() -> None:
    from django.contrib.auth import get_user_model

    t = helpers.tenant(today=date(2026, 11, 27))
    mediators = [helpers.mediator(t, name="M1"), helpers.mediator(t, name="M2")]
    officers = []
    for name in ("L1", "L2"):
        user = get_user_model().objects.create_user(f"officer-{name}", password="pw")
        Membership.objects.create(user=user, organisation=t["la"], role="coordinator")
        officers.append(user)
    for m in mediators:
        resource_for_mediator(m)
    for user in officers:
        resource_for_user(user, t["la"])
    jobs = []
    for i in range(40):
        mediator, officer = mediators[i % 2], officers[(i // 2) % 2]
        case = helpers.case(t, la_notified=date(2026, 11, 20), officer=False)
        Participant.objects.create(case=case, role="la_officer", name="Officer", user=officer, organisation=t["la"])
        start = START + timedelta(minutes=15 * (i % 3))
        jobs.append(
            lambda case=case, mediator=mediator, start=start: meeting_book(
                case=case,
                actor=None,
                start=start,
                end=start + timedelta(hours=3),
                mediator=mediator,
                room=None,
                mode="online",
                now=NOW,
            )
        )

    booked, conflicts, errors = _race(jobs)
    assert errors == []
    assert booked + conflicts == 40
    assert 1 <= booked <= 2
    confirmed = Meeting.objects.filter(status="confirmed")
    assert confirmed.count() == booked
    for meeting in confirmed:
        assert meeting.occupancies.filter(active=True).count() == 2  # the mediator and the officer, together
    assert Occupancy.objects.filter(active=True).count() == 2 * booked
    assert overlapping_active_pairs() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_refuses_an_overlap_even_without_the_application_check() -> None:
    """The exclusion constraint is the last word: a raw insert that skips every check still fails."""
    from django.db import IntegrityError

    t = helpers.tenant(today=date(2026, 11, 27))
    mediator = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20), officer=False)
    meeting = meeting_book(
        case=case,
        actor=None,
        start=START,
        end=START + timedelta(hours=3),
        mediator=mediator,
        room=None,
        mode="online",
        now=NOW,
    )
    with pytest.raises(IntegrityError, match="occupancy_no_overlap_per_resource"):
        Occupancy.objects.create(
            resource=resource_for_mediator(mediator),
            start=START + timedelta(hours=1),
            end=START + timedelta(hours=2),
            kind="meeting",
            meeting=meeting,
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bookings_of_one_mediator_on_one_day_take_turns_and_others_do_not_wait() -> None:
    """While one booking holds its turn (mediator, day), another that day waits; other days and mediators do not."""
    from django.db import OperationalError, transaction

    from scheduling.occupancy import take_turn

    t = helpers.tenant(today=date(2026, 11, 27))
    first, second = helpers.mediator(t).pk, helpers.mediator(t, name="B").pk

    def waits(mediator_id: int, start: datetime) -> bool:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
            try:
                with transaction.atomic():
                    take_turn(mediator_id, start)
            except OperationalError:
                return True
            return False

    def hold_turn() -> None:
        take_turn(first, START)
        take_turn(first, START)  # taken again by the same transaction: no wait

    with helpers.held_by_another_transaction(hold_turn):
        assert waits(first, START + timedelta(hours=4))
        assert not waits(first, START + timedelta(days=1))
        assert not waits(second, START)
    assert not waits(first, START)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_racer_that_waited_for_its_turn_is_refused_before_it_locks_its_case() -> None:
    """A booking whose first read saw the time free, but whose turn came after the winner's commit, answers 409 with
    one read after the turn: it never locks its case or reads its participants."""
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    from scheduling.occupancy import take_turn

    t = helpers.tenant(today=date(2026, 11, 27))
    mediator = helpers.mediator(t)
    winner, loser = (helpers.case(t, la_notified=date(2026, 11, 20), officer=False) for _ in range(2))
    holding, release, done = threading.Event(), threading.Event(), threading.Event()
    seen: list[str] = []
    failures: list[BaseException] = []

    def book(case: Any) -> Any:
        return meeting_book(
            case=case, actor=None, start=START, end=START + timedelta(hours=3), mediator=mediator, room=None,
            mode="online", now=NOW,
        )  # fmt: skip

    def win() -> None:
        try:
            with transaction.atomic():
                take_turn(mediator.pk, START)  # the winner holds the turn while the loser reads the time as free
                holding.set()
                release.wait(30)
                book(winner)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)
        finally:
            connection.close()

    def lose() -> None:
        try:
            with CaptureQueriesContext(connection) as queries, pytest.raises(ConflictError, match="just been taken"):
                book(loser)
            seen.extend(q["sql"] for q in queries.captured_queries)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)
        finally:
            done.set()
            connection.close()

    winning = threading.Thread(target=win)
    winning.start()
    assert holding.wait(30)
    losing = threading.Thread(target=lose)
    losing.start()
    assert not done.wait(1)  # the loser waits for its turn
    release.set()
    winning.join(30)
    losing.join(30)
    assert failures == []
    assert [sql for sql in seen if "pg_advisory_xact_lock" in sql], seen  # it did wait for its turn
    assert not [sql for sql in seen if "FOR UPDATE" in sql or "booking_participant" in sql], seen
    assert Meeting.objects.filter(case=winner).count() == 1 and not Meeting.objects.filter(case=loser).exists()


@pytest.mark.django_db(transaction=True)
def test_the_family_accepting_while_the_coordinator_re_offers_ends_in_one_of_them_never_a_deadlock() -> None:
    """Both change the same case's offer and holds: each takes the case's lock first, so one wins and the other gets a
    clean 409, whichever goes first (taking the offer's lock before the case's once let them deadlock)."""
    from booking.offers import offer_accept, offer_create

    t = helpers.tenant(today=date(2026, 11, 27))
    helpers.mediator(t)
    for _ in range(4):
        case = helpers.case(t, la_notified=date(2026, 11, 20))
        offer, _token = offer_create(case=case, actor=None, now=NOW)
        slot = offer.slots.order_by("rank").first()
        booked, conflicts, errors = _race(
            [
                lambda offer=offer, slot=slot: offer_accept(offer=offer, slot_id=slot.pk, now=NOW),
                lambda case=case: offer_create(case=case, actor=None, now=NOW),
            ]
        )
        assert errors == []
        assert (booked, conflicts) == (1, 1)
    assert overlapping_active_pairs() == 0
