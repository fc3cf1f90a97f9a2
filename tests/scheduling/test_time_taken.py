"""`mediator_time_taken`, the read every booking attempt makes, is written as SQL: it must answer exactly as the same
question asked through the ORM, on both databases, whatever the time zone of the times it is given."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Q

from booking.meetings import meeting_book
from booking.offers import offer_create
from scheduling.models import Mediator, Occupancy
from scheduling.occupancy import mediator_time_taken
from tests.booking import helpers

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")


def _through_the_orm(mediator: Mediator, start: datetime, end: datetime, now: datetime) -> bool:
    live = Q(kind=Occupancy.Kind.MEETING) | Q(kind=Occupancy.Kind.HOLD, expires_at__gt=now)
    return Occupancy.objects.filter(
        live,
        active=True,
        resource__mediator_id=mediator.pk,
        start__lt=end + timedelta(minutes=mediator.buffer_after_minutes),
        end__gt=start - timedelta(minutes=mediator.buffer_before_minutes),
    ).exists()


def test_it_answers_as_the_orm_does_around_meetings_live_expired_and_released_holds() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    held_mediator = helpers.mediator(t)
    offer, _ = offer_create(case=helpers.case(t, la_notified=date(2026, 11, 20)), actor=None, now=NOW)
    holds = list(Occupancy.objects.filter(offer_slot__offer=offer, resource__mediator=held_mediator).order_by("start"))
    assert len(holds) >= 2
    Occupancy.objects.filter(pk=holds[-1].pk).update(active=False)  # released: never counts
    held_mediator.active = False  # the offer's mediator is kept out of the next booking's way
    held_mediator.save()
    booked_mediator = helpers.mediator(t, name="Second", buffer_before_minutes=30, buffer_after_minutes=5)
    start = holds[0].start + timedelta(days=1)
    meeting_book(
        case=helpers.case(t, la_notified=date(2026, 11, 20)), actor=None, start=start, end=start + timedelta(hours=3),
        mediator=booked_mediator, room=None, mode="online", now=NOW,
    )  # fmt: skip
    answers = []
    for mediator, rows in ((held_mediator, holds), (booked_mediator, Occupancy.objects.filter(kind="meeting"))):
        for row in rows:
            for step in range(0, 5 * 60, 5):  # an hour's meeting every 5 minutes, from 2 hours before the row
                begin = (row.start - timedelta(hours=2) + timedelta(minutes=step)).astimezone(LONDON)
                for now in (NOW, holds[0].expires_at + timedelta(seconds=1)):  # holds live, then expired
                    expected = _through_the_orm(mediator, begin, begin + timedelta(hours=1), now)
                    assert mediator_time_taken(mediator, begin, begin + timedelta(hours=1), now=now) == expected, (
                        mediator.name, row.kind, begin, now,
                    )  # fmt: skip
                    answers.append(expected)
    assert True in answers and False in answers


def test_a_meeting_right_after_the_buffers_is_free_and_a_minute_earlier_is_not() -> None:
    t = helpers.tenant(today=date(2026, 11, 27))
    mediator = helpers.mediator(t, buffer_before_minutes=30, buffer_after_minutes=10)
    start = datetime(2026, 12, 7, 10, tzinfo=UTC)
    meeting_book(
        case=helpers.case(t, la_notified=date(2026, 11, 20)), actor=None, start=start, end=start + timedelta(hours=3),
        mediator=mediator, room=None, mode="online", now=NOW,
    )  # fmt: skip
    # The meeting occupies 09:30-13:10; a new one needs 30 minutes free before it.
    after = datetime(2026, 12, 7, 13, 40, tzinfo=UTC).astimezone(LONDON)
    assert not mediator_time_taken(mediator, after, after + timedelta(hours=1), now=NOW)
    assert mediator_time_taken(mediator, after - timedelta(minutes=1), after + timedelta(hours=1), now=NOW)
    # and 10 minutes free after it: a meeting ending at 09:20 is clear of 09:30, one ending at 09:21 is not.
    before = datetime(2026, 12, 7, 9, 20, tzinfo=UTC)
    assert not mediator_time_taken(mediator, before - timedelta(hours=1), before, now=NOW)
    assert mediator_time_taken(mediator, before - timedelta(hours=1), before + timedelta(minutes=1), now=NOW)
