"""Taking and releasing resources' time. The database has the last word on overlaps.

On PostgreSQL an exclusion constraint forbids two active occupancies of one resource that overlap; on SQLite the same
check runs here, inside the caller's transaction, which SQLite's IMMEDIATE mode makes the only writer. A booking that
needs several resources takes them all or none, always in resource-id order so that two bookings cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet

from core.errors import ConflictError
from core.models import Organisation
from scheduling.models import Mediator, Occupancy, Resource, Room


class SlotTakenError(ConflictError):
    """One of the resources is no longer free at that time."""


@dataclass(frozen=True)
class Claim:
    resource_id: int
    start: datetime
    end: datetime


def resource_for_mediator(mediator: Mediator) -> Resource:
    resource, _ = Resource.objects.get_or_create(
        mediator=mediator,
        defaults={
            "kind": Resource.Kind.MEDIATOR,
            "organisation_id": mediator.provider_id,
            "name": mediator.name,
            "timezone": mediator.timezone,
        },
    )
    return resource


def resource_for_user(user: Any, organisation: Organisation) -> Resource:
    resource, _ = Resource.objects.get_or_create(
        user=user,
        defaults={
            "kind": Resource.Kind.STAFF,
            "organisation": organisation,
            "name": user.get_full_name() or user.get_username(),
        },
    )
    return resource


def resource_for_room(room: Room) -> Resource:
    resource, _ = Resource.objects.get_or_create(
        room=room,
        defaults={
            "kind": Resource.Kind.ROOM,
            "organisation_id": room.venue.owner_id,
            "name": str(room),
            "timezone": room.venue.timezone,
        },
    )
    return resource


def resource_ids_for(
    *, mediator: Mediator, room: Room | None = None, staff: Sequence[tuple[int, int]] = ()
) -> tuple[int, int | None, list[int]]:
    """The resource ids of a mediator, a room and staff users (user id, id of the organisation they act for), read in
    one query and created where missing. Returns (mediator's, room's or None, the staff's in the order given)."""
    wanted = Q(mediator_id=mediator.pk) | Q(user_id__in=[user_id for user_id, _ in staff])
    if room is not None:
        wanted |= Q(room_id=room.pk)
    found = list(Resource.objects.filter(wanted).values_list("pk", "mediator_id", "user_id", "room_id"))
    by_mediator = {mediator_id: pk for pk, mediator_id, _, _ in found if mediator_id}
    by_user = {user_id: pk for pk, _, user_id, _ in found if user_id}
    by_room = {room_id: pk for pk, _, _, room_id in found if room_id}
    mediator_resource = by_mediator.get(mediator.pk) or resource_for_mediator(mediator).pk
    room_resource = None
    if room is not None:
        room_resource = by_room.get(room.pk) or resource_for_room(room).pk
    staff_resources = []
    for user_id, organisation_id in staff:
        if user_id not in by_user:
            user = get_user_model().objects.get(pk=user_id)
            by_user[user_id] = resource_for_user(user, Organisation.objects.get(pk=organisation_id)).pk
        staff_resources.append(by_user[user_id])
    return mediator_resource, room_resource, staff_resources


# Every booking attempt makes this read, most of them twice, so it is written as SQL that both databases run. Through
# the ORM it cost about 0.44 ms of CPU, nearly all of it building and compiling the query; as SQL, 0.05 ms.
_MEDIATOR_TIME_TAKEN = (
    f"SELECT 1 FROM {Occupancy._meta.db_table} o JOIN {Resource._meta.db_table} r ON r.id = o.resource_id "
    'WHERE r.mediator_id = %s AND o.active AND o.start < %s AND o."end" > %s AND (o.kind = %s OR o.expires_at > %s) '
    "LIMIT 1"
)


def mediator_time_taken(mediator: Mediator, start: datetime, end: datetime, *, now: datetime) -> bool:
    """A cheap read, without locks: is the mediator's time, with their buffers, already taken by a meeting or a live
    hold? Lets a booking that has clearly lost answer before it starts a transaction, and one that waited for its turn
    (`take_turn`) answer before it locks anything; `occupy` under the locks (and the constraint) stays the last word."""
    moment = connection.ops.adapt_datetimefield_value  # as the ORM writes them (SQLite: naive UTC text)
    params = [
        mediator.pk,
        moment(end + timedelta(minutes=mediator.buffer_after_minutes)),
        moment(start - timedelta(minutes=mediator.buffer_before_minutes)),
        Occupancy.Kind.MEETING.value,
        moment(now),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_MEDIATOR_TIME_TAKEN, params)
        return cursor.fetchone() is not None


def holds_release_expired(*, now: datetime, resource_ids: Sequence[int] | None = None) -> int:
    """Expired holds stop counting. The slot engine already ignores them; this frees them for the constraint.

    With `resource_ids`, under those resources' locks (as `occupy` calls it). Without, the periodic sweep: it takes no
    resource locks, so it passes over the holds another transaction is changing at that moment (that transaction, or
    the next sweep, releases them) rather than wait for their rows in an order of its own."""
    qs = Occupancy.objects.filter(active=True, kind=Occupancy.Kind.HOLD, expires_at__lte=now)
    if resource_ids is not None:
        return qs.filter(resource_id__in=resource_ids).update(active=False)
    with transaction.atomic():
        ids = list(qs.select_for_update(skip_locked=True).values_list("pk", flat=True))
        return Occupancy.objects.filter(pk__in=ids).update(active=False)


def take_turn(mediator_id: int, start: datetime) -> None:
    """Queue behind any other booking of the mediator on the same UTC day, until the transaction ends.

    Bookings that race for one mediator's day are nearly always racing for the same time: the first does its work, the
    others wait here without spending any, then find the time taken with one read (`mediator_time_taken`) and answer
    409. Without the turn every racer does all of a booking's work only to be refused by the constraint at the end.
    Bookings of other mediators or other days are not held up. PostgreSQL only (a transaction-scoped advisory lock,
    keyed on the mediator and the day); SQLite already runs one writer at a time. The constraint stays the last word:
    the turn only saves work.

    The turn comes first in a booking's transaction, before the case's row lock (and an offer's) and any resource's:
    whoever waits for it holds nothing, and whoever holds it takes the others in that order, so no cycle of waits can
    form. A transaction may take the same turn again (it already has it).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [mediator_id % 2**31, int(start.timestamp()) // 86400]
            )


def _overlapping(claims: Sequence[Claim]) -> bool:
    query = Q()
    for claim in claims:
        query |= Q(resource_id=claim.resource_id, start__lt=claim.end, end__gt=claim.start)
    return Occupancy.objects.filter(query, active=True).exists()


def lock_resources(resource_ids: Iterable[int]) -> None:
    """Lock the resources' rows, always in id order, until the transaction ends.

    Two bookings that share a resource then take turns instead of both inserting and each waiting, inside the
    exclusion constraint's check, for the other to finish: PostgreSQL would break that cycle as a deadlock. A fixed
    order means no cycle can form between bookings that need several resources. (SQLite already has one writer.)
    """
    ids = sorted(set(resource_ids))
    if ids:
        list(Resource.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))


def occupy(
    *,
    claims: Sequence[Claim],
    kind: str,
    now: datetime,
    meeting: Any = None,
    offer_slot: Any = None,
    expires_at: datetime | None = None,
    release: QuerySet[Occupancy] | None = None,
) -> list[Occupancy]:
    """Take every claim or none, after releasing `release` (a reschedule's old times, an offer's holds), under the
    resources' locks. Must run inside the caller's transaction; raises SlotTakenError on any overlap."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("occupy() must run inside transaction.atomic()")
    ordered = sorted(claims, key=lambda c: (c.resource_id, c.start))
    released = list(release.values_list("pk", "resource_id")) if release is not None else []
    lock_resources([c.resource_id for c in ordered] + [resource_id for _, resource_id in released])
    if released:
        Occupancy.objects.filter(pk__in=[pk for pk, _ in released]).update(active=False)
    holds_release_expired(now=now, resource_ids=[c.resource_id for c in ordered])
    if connection.vendor != "postgresql" and _overlapping(ordered):
        raise SlotTakenError("That time has just been taken.")
    rows = [
        Occupancy(
            resource_id=c.resource_id,
            start=c.start,
            end=c.end,
            kind=kind,
            meeting=meeting,
            offer_slot=offer_slot,
            expires_at=expires_at,
        )
        for c in ordered
    ]
    # No savepoint of its own (two statements saved): a conflict spoils the caller's whole transaction, which the
    # SlotTakenError raised here then leaves, rolled back. No caller catches it and goes on inside that transaction.
    try:
        return Occupancy.objects.bulk_create(rows)
    except IntegrityError as exc:
        if "occupancy_no_overlap_per_resource" in str(exc):
            raise SlotTakenError("That time has just been taken.") from None
        raise


def overlapping_active_pairs() -> int:
    """How many pairs of active occupancies of one resource overlap (must always be 0). For tests and benchmarks."""
    count = 0
    rows = (
        Occupancy.objects.filter(active=True)
        .order_by("resource_id", "start")
        .values_list("resource_id", "start", "end")
    )
    last: dict[int, datetime] = {}
    for resource_id, start, end in rows:
        if resource_id in last and start < last[resource_id]:
            count += 1
        last[resource_id] = max(end, last.get(resource_id, end))
    return count
