"""Offers: a short list of slots for the family, each held on every resource it uses, and the family's pick."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.db import transaction

from booking import statutory
from booking.meetings import case_lock, check_bookable, local_day, meeting_book, meeting_claims
from booking.models import Case, CaseEvent, Meeting, Offer, OfferSlot
from booking.services import _record, case_transition
from booking.states import State
from core.errors import ApplicationError, ConflictError, GoneError
from notifications import services as notifications
from scheduling.models import Mediator, Occupancy, Room
from scheduling.occupancy import SlotTakenError, lock_resources, occupy, take_turn
from scheduling.search import SlotQuery, case_slot_search

SALT = "booking.offer"
OFFERABLE_STATES = (State.ISSUES_CAPTURED, State.ICB_NOTIFIED, State.SCHEDULING, State.NOT_ARRANGED_30_DAYS)


@dataclass(frozen=True)
class SlotChoice:
    start: datetime
    end: datetime
    mediator_id: int
    room_id: int | None
    mode: str
    late: bool = False
    reasons: tuple[str, ...] = ()


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def offer_token(offer_id: int, raw: str) -> str:
    """The family's link token: signed for this purpose, naming the offer, carrying 192 random bits."""
    return signing.Signer(salt=SALT).sign(f"{offer_id}.{raw}")


def offer_from_token(token: str) -> Offer | None:
    try:
        offer_id, raw = signing.Signer(salt=SALT).unsign(token).split(".", 1)
    except (signing.BadSignature, ValueError):
        return None
    offer = Offer.objects.select_related("case").filter(pk=int(offer_id)).first() if offer_id.isdigit() else None
    if offer is None or not hmac.compare_digest(offer.token_hash, _hash(raw)):
        return None
    return offer


def _best_choices(
    case: Case, now: datetime, count: int, replacing: tuple[int, ...] = (), allow_late: bool = False
) -> list[SlotChoice]:
    """The earliest slots that do not overlap one another (holds on shared people must not clash), on different days
    where possible. The holds of the offers `replacing` count as free. After the mediation due date only when asked,
    or once the LA has recorded that 30 days cannot be met (the case stays schedulable after it)."""
    late = allow_late or case.state == State.NOT_ARRANGED_30_DAYS
    query = SlotQuery(limit=300, allow_late=late, free_holds_of=replacing)
    result = case_slot_search(case=case, query=query, now=now)
    picked: list[Any] = []
    for distinct_days in (True, False):
        for slot in result.slots:
            if len(picked) == count:
                break
            if any(slot.start < p.end + timedelta(hours=1) and p.start < slot.end + timedelta(hours=1) for p in picked):
                continue
            if distinct_days and any(local_day(p.start) == local_day(slot.start) for p in picked):
                continue
            picked.append(slot)
    picked.sort(key=lambda s: s.start)
    return [SlotChoice(s.start, s.end, int(s.mediator_id), s.room_id, s.mode, s.late, s.reasons) for s in picked]


def _verify_choice(case: Case, choice: SlotChoice, now: datetime, replacing: tuple[int, ...] = ()) -> SlotChoice:
    """A coordinator's choice must be a slot the search would offer now (the holds of the offers `replacing` count as
    free), in the room chosen if one is: only the case's own rooms (its provider's and its LA's) are searched."""
    query = SlotQuery(
        duration=choice.end - choice.start,
        after=choice.start,
        before=choice.end,
        limit=1,
        allow_late=True,
        mediator_ids=(choice.mediator_id,),
        mode=choice.mode,
        free_holds_of=replacing,
        room_ids=(choice.room_id,) if choice.room_id else None,
    )
    found = case_slot_search(case=case, query=query, now=now).slots
    if not found or found[0].start != choice.start:
        raise ConflictError(
            f"{choice.start.isoformat()} is not free for everyone this meeting needs (or not on the 15-minute grid).",
            {"start": choice.start.isoformat()},
        )
    return SlotChoice(
        choice.start,
        choice.end,
        choice.mediator_id,
        found[0].room_id,
        found[0].mode,
        found[0].late,
        found[0].reasons,
    )


def _assert_apart(choices: list[SlotChoice]) -> None:
    """The case's own people are held for every time offered, so no two may overlap; nor may one mediator's times
    with their buffers."""
    buffers = {
        pk: (timedelta(minutes=before), timedelta(minutes=after))
        for pk, before, after in Mediator.objects.filter(pk__in={c.mediator_id for c in choices}).values_list(
            "pk", "buffer_before_minutes", "buffer_after_minutes"
        )
    }
    for i, choice in enumerate(choices):
        for j, other in enumerate(choices[:i]):
            before, after = buffers.get(choice.mediator_id, (timedelta(0), timedelta(0)))
            pad = other.mediator_id == choice.mediator_id
            if other.start < choice.end + (before + after) * pad and choice.start < other.end + (before + after) * pad:
                raise ApplicationError(
                    f"Times {j + 1} and {i + 1} overlap: choose times that do not.",
                    {"fields": {"slots": [f"Times {j + 1} and {i + 1} overlap."]}},
                )


def _release_open_offers(offers: list[Offer], *, now: datetime) -> None:
    """Withdraw the offers and release their holds. The caller holds the holds' resources' locks."""
    for offer in offers:
        Occupancy.objects.filter(offer_slot__offer=offer, active=True).update(active=False)
        notifications.cancel_pending(offer=offer)
        offer.status, offer.decided_at = Offer.Status.WITHDRAWN, now
        offer.save(update_fields=["status", "decided_at"])


@transaction.atomic
def offer_create(
    *,
    case: Case,
    actor: Any,
    now: datetime,
    choices: list[SlotChoice] | None = None,
    count: int = 3,
    expiry_working_days: int | None = None,
    allow_late: bool = False,
) -> tuple[Offer, str]:
    case = case_lock(case.pk)
    if case.state not in OFFERABLE_STATES or (case.state == State.ISSUES_CAPTURED and case.health_involved):
        raise ConflictError(
            f"Slots can be offered once the issues are captured (and the ICB notified when health is involved); "
            f"this case is {case.get_state_display().lower()}.",
            {"state": case.state},
        )
    if case.meetings.filter(status=Meeting.Status.CONFIRMED).exists():
        raise ConflictError("This case already has a confirmed meeting.")
    # The new offer replaces any open one: the search counts their holds as free, and they are released below, once
    # every resource either offer touches is locked, in one go and in id order (two batches could deadlock a booking).
    replacing = list(case.offers.filter(status=Offer.Status.OPEN))
    replaced = tuple(o.pk for o in replacing)
    if choices:
        _assert_apart(choices)
        choices = [_verify_choice(case, c, now, replaced) for c in choices]
    else:
        choices = _best_choices(case, now, count, replaced, allow_late)
    if not choices:
        raise ConflictError(
            "No time suits everyone this meeting needs"
            + ("." if allow_late else " before the mediation due date. Include times after it, or record that "
               "mediation cannot be arranged within 30 days."),
            {"statutory_path": {"to": State.NOT_ARRANGED_30_DAYS}, "allow_late": allow_late},
        )  # fmt: skip
    days = expiry_working_days or settings.OFFER_EXPIRY_WORKING_DAYS
    # The same time of day in UK time, that many working days on, whatever the clocks do in between.
    local_now = now.astimezone(ZoneInfo(settings.DISPLAY_TIME_ZONE))
    expires_at = datetime.combine(
        statutory.add_working_days(local_now.date(), days), local_now.time(), tzinfo=local_now.tzinfo
    ).astimezone(UTC)
    raw = secrets.token_urlsafe(24)
    offer = Offer.objects.create(
        case=case,
        token_hash=_hash(raw),
        expires_at=expires_at,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    mediators = Mediator.objects.in_bulk([c.mediator_id for c in choices])
    rooms = Room.objects.select_related("venue").in_bulk([c.room_id for c in choices if c.room_id])
    claims_of = []
    for choice in choices:
        mediator, room = mediators[choice.mediator_id], rooms.get(choice.room_id) if choice.room_id else None
        check_bookable(
            case=case, mediator=mediator, room=room, mode=choice.mode, start=choice.start, end=choice.end, now=now
        )
        claims_of.append(meeting_claims(case=case, mediator=mediator, room=room, start=choice.start, end=choice.end))
    # Every resource of the new slots and of the replaced holds locked at once, in id order (occupy below takes the
    # new ones again, one slot at a time, which waits for nothing).
    held = Occupancy.objects.filter(offer_slot__offer__in=replacing, active=True).values_list("resource_id", flat=True)
    lock_resources([claim.resource_id for claims in claims_of for claim in claims] + list(held))
    _release_open_offers(replacing, now=now)
    for rank, (choice, claims) in enumerate(zip(choices, claims_of, strict=True), start=1):
        mediator, room = mediators[choice.mediator_id], rooms.get(choice.room_id) if choice.room_id else None
        slot = OfferSlot.objects.create(
            offer=offer,
            rank=rank,
            start=choice.start,
            end=choice.end,
            mode=choice.mode,
            mediator=mediator,
            room=room,
            late=choice.late,
            reasons=list(choice.reasons),
        )
        occupy(claims=claims, kind=Occupancy.Kind.HOLD, offer_slot=slot, expires_at=expires_at, now=now)
    if case.state != State.SCHEDULING:
        case = case_transition(
            case=case,
            actor=actor,
            target=State.SCHEDULING,
            today=local_day(now),
            system=True,
            reason="slots offered to the family",
        )
    _record(
        case,
        CaseEvent.Kind.UPDATED,
        actor=actor,
        reason="slots offered",
        details={"offer": offer.pk, "slots": len(choices), "expires_at": expires_at.isoformat()},
    )
    token = offer_token(offer.pk, raw)
    notifications.offer_made(offer, link=f"{settings.SITE_URL}/book/{token}/", now=now)
    return offer, token


@transaction.atomic
def offer_expire(*, offer: Offer, now: datetime) -> bool:
    """Mark an open offer past its expiry as expired and release its holds. Safe to run twice."""
    case_lock(offer.case_id)
    updated = Offer.objects.filter(pk=offer.pk, status=Offer.Status.OPEN, expires_at__lte=now).update(
        status=Offer.Status.EXPIRED, decided_at=now
    )
    if updated:
        held = Occupancy.objects.filter(offer_slot__offer_id=offer.pk, active=True)
        lock_resources(held.values_list("resource_id", flat=True))  # as every change to a resource's time does
        held.update(active=False)
        _record(
            offer.case,
            CaseEvent.Kind.UPDATED,
            actor=None,
            reason="offer expired: the family did not choose",
            details={"offer": offer.pk, "coordinator_alert": True},
        )
        notifications.cancel_pending(offer=offer)
        notifications.coordinator_alert(
            offer.case,
            problem="The family did not choose a time before the offer expired. Offer new times.",
            key=f"offer-expired:{offer.pk}",
            now=now,
        )
    return bool(updated)


def offers_expire_due(*, now: datetime) -> int:
    return sum(offer_expire(offer=o, now=now) for o in Offer.objects.filter(status="open", expires_at__lte=now))


def open_options(offer: Offer) -> list[OfferSlot]:
    """The offered slots still held for the family."""
    held = Occupancy.objects.filter(offer_slot__offer=offer, active=True).values_list("offer_slot_id", flat=True)
    return [s for s in offer.slots.select_related("room__venue", "mediator") if s.pk in set(held)]


@transaction.atomic
def _accept(offer_id: int, slot_id: int, now: datetime) -> Meeting:
    slot = OfferSlot.objects.select_related("mediator", "room__venue").filter(pk=slot_id, offer_id=offer_id).first()
    if slot is not None:
        take_turn(slot.mediator_id, slot.start)  # a booking's first lock, before the case's (see take_turn)
    case_lock(Offer.objects.filter(pk=offer_id).values_list("case_id", flat=True).get())
    offer = Offer.objects.select_for_update().get(pk=offer_id)
    if offer.status != Offer.Status.OPEN:
        raise ConflictError("This booking link has already been used.", {"status": offer.status})
    if slot is None:
        raise ApplicationError(
            "Choose one of the offered times.", {"fields": {"slot": ["Not one of the offered times."]}}
        )
    meeting = meeting_book(
        case=offer.case,
        actor=None,
        start=slot.start,
        end=slot.end,
        mediator=slot.mediator,
        room=slot.room,
        mode=slot.mode,
        now=now,
        offer_slot=slot,
        release=Occupancy.objects.filter(offer_slot__offer=offer, active=True),
        # The offer told the family of this date and place: the notice runs from the day it was made, so every time
        # it holds can be chosen until it expires (the best times are the first the notice allows).
        notice_from=local_day(offer.created_at),
    )
    offer.status, offer.decided_at = Offer.Status.ACCEPTED, now
    offer.save(update_fields=["status", "decided_at"])
    notifications.cancel_pending(offer=offer)
    return meeting


def offer_assert_open(*, offer: Offer, now: datetime) -> None:
    """What the family's link may still do: choose (an open offer), or nothing, with what to do next. An offer past
    its expiry is expired here (its holds go and the coordinator is told), as the sweep would."""
    if offer.status == Offer.Status.OPEN and offer.expires_at <= now:
        offer_expire(offer=offer, now=now)
        offer.refresh_from_db()
    if offer.status == Offer.Status.EXPIRED:
        raise GoneError(
            "This booking link has expired. We have told your case coordinator, who will send you new times.",
            {"next": "Wait for new times, or contact your case coordinator."},
        )
    if offer.status == Offer.Status.WITHDRAWN:
        raise ConflictError(
            "This booking link is no longer used: newer times have been sent to you.",
            {
                "status": offer.status,
                "next": "Use the link in the most recent message, or contact your case coordinator.",
            },
        )


def offer_accept(*, offer: Offer, slot_id: int, now: datetime) -> Meeting:
    """The family picks one offered slot: its holds become the meeting and the other holds are released, in one
    transaction. 410 when the offer has expired; 409 with the options still open when the slot was taken."""
    offer_assert_open(offer=offer, now=now)
    try:
        return _accept(offer.pk, slot_id, now)
    except SlotTakenError:
        options = [s.pk for s in open_options(offer) if s.pk != slot_id]
        raise ConflictError("That time has just been taken. Please choose another.", {"options": options}) from None
