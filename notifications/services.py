"""Writing messages into the outbox: idempotent, in the caller's transaction, never calling another server.

Urgent messages (invitations, updates, cancellations, offers) are also handed to a worker once the transaction
commits, when a broker is configured; everything else, and anything the hand-off missed, is found by the dispatcher.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction

from core.broker import enqueue_many
from notifications.models import Message, ReminderSchedule

logger = logging.getLogger(__name__)

URGENT = {Message.Kind.INVITATION, Message.Kind.UPDATE, Message.Kind.CANCELLATION, Message.Kind.OFFER}
DEFAULT_REMINDERS = [
    {"channel": "email", "minutes_before": 7 * 24 * 60},
    {"channel": "email", "minutes_before": 24 * 60},
    {"channel": "sms", "minutes_before": 24 * 60},
    {"channel": "sms", "minutes_before": 2 * 60},
]
FAMILY_ROLES = ("parent", "young_person", "alternative_person", "supporter")


def message_queue(*, dedupe_key: str, **fields: Any) -> Message | None:
    """Write one message unless one with this key exists (then nothing happens). Returns the new row or None."""
    written = messages_queue([Message(dedupe_key=dedupe_key, **fields)])
    return written[0] if written else None


def messages_queue(messages: list[Message], *, keys_are_new: bool = False) -> list[Message]:
    """Write the messages whose dedupe keys are new, in one read and one insert. Returns the rows written.

    A concurrent transaction that wrote one of the keys first makes the insert fail; then each is written on its own,
    and the ones already there are left. `keys_are_new`: the caller knows no row can have these keys yet (they name a
    meeting created in this transaction), so they are written in one insert without the read."""
    if not messages:
        return []
    if keys_are_new:
        written = Message.objects.bulk_create(messages)
        _hand_off_urgent(written)
        return written
    existing = set(
        Message.objects.filter(dedupe_key__in=[m.dedupe_key for m in messages]).values_list("dedupe_key", flat=True)
    )
    fresh, seen = [], set(existing)
    for message in messages:
        if message.dedupe_key not in seen:
            seen.add(message.dedupe_key)
            fresh.append(message)
    if not fresh:
        return []
    try:
        with transaction.atomic():
            written = Message.objects.bulk_create(fresh)
    except IntegrityError:
        written = []
        for message in fresh:
            try:
                with transaction.atomic():
                    message.save(force_insert=True)
            except IntegrityError:
                message.pk = None
                continue  # written by a concurrent transaction
            written.append(message)
    _hand_off_urgent(written)
    return written


def _hand_off_urgent(written: list[Message]) -> None:
    """Once the transaction commits, give the urgent messages to the workers, together."""
    urgent = [message.pk for message in written if message.kind in URGENT]
    if urgent and settings.CELERY_BROKER_URL:
        transaction.on_commit(partial(_hand_off, urgent))


def _hand_off(message_ids: list[int]) -> None:
    """Give urgent messages to the workers now. If the broker is down, the dispatcher sends them a little later."""
    from notifications.tasks import message_send_task

    enqueue_many([(message_send_task, (message_id,)) for message_id in message_ids])


def wants(participant: Any, channel: str) -> bool:
    prefs = participant.preferred_channels or []
    address = participant.email if channel == "email" else participant.mobile
    return bool(address) and (not prefs or channel in prefs)


def _provider(case: Any) -> Any:
    return case.provider


def _family(case: Any) -> Iterable[Any]:
    return [p for p in case.participants.all() if p.role in FAMILY_ROLES]


LINK_KINDS = (Message.Kind.OFFER, Message.Kind.OFFER_EXPIRING, Message.Kind.FEEDBACK)  # they carry a family's link


def cancel_pending(
    *, meeting: Any = None, offer: Any = None, attendee: Any = None, kinds: Iterable[str] | None = None
) -> int:
    qs = Message.objects.filter(status=Message.Status.PENDING)
    if meeting is not None:
        qs = qs.filter(meeting=meeting)
    if attendee is not None:
        qs = qs.filter(attendee=attendee)
    if offer is not None:
        qs = qs.filter(offer=offer)
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    # The rows that carry a family's link carry nothing else: they forget it with their turn (sending._set).
    linked = qs.filter(kind__in=LINK_KINDS).update(
        status=Message.Status.CANCELLED, last_error="no longer applies", context={}
    )
    return linked + qs.update(status=Message.Status.CANCELLED, last_error="no longer applies")


def _reminder_offsets(organisation: Any) -> list[dict[str, Any]]:
    """The organisation's reminder schedule, or the default. Read with the organisation when the caller selected it
    (`select_related("provider__reminders")`, as a booking's case lock does), otherwise here."""
    try:
        schedule = organisation.reminders
    except ReminderSchedule.DoesNotExist:
        return DEFAULT_REMINDERS
    return schedule.offsets or DEFAULT_REMINDERS


def meeting_attendees_sync(
    meeting: Any, *, participants: list[Any] | None = None, new_meeting: bool = False
) -> tuple[list[Any], list[Any]]:
    """Make the attendee list match the case's participants. Returns (current, removed-just-now).

    `participants`: the case's, when the caller has just read them; `new_meeting`: the meeting was created in this
    transaction, so it has no attendees yet."""
    from booking.models import MeetingAttendee

    roles = {"mediator": "CHAIR", "supporter": "OPT-PARTICIPANT", "observer": "OPT-PARTICIPANT"}
    if participants is None:
        participants = list(meeting.case.participants.all())
    existing, gone = {}, []  # gone: attendees whose participant was deleted
    for attendee in [] if new_meeting else meeting.attendees.all():
        if attendee.participant_id:
            existing[attendee.participant_id] = attendee
        elif attendee.active:
            gone.append(attendee)
    current, new = [], []
    for p in participants:
        attendee = existing.pop(p.pk, None)
        if attendee is None:
            attendee = MeetingAttendee(
                meeting=meeting,
                participant=p,
                name=p.name,
                email=p.email,
                ical_role=roles.get(p.role, "REQ-PARTICIPANT"),
                token=secrets.token_urlsafe(16),
            )
            new.append(attendee)
        elif not attendee.active or attendee.email != p.email or attendee.name != p.name:
            attendee.active, attendee.email, attendee.name = True, p.email, p.name
            attendee.save(update_fields=["active", "email", "name"])
        current.append(attendee)
    MeetingAttendee.objects.bulk_create(new)
    removed = [a for a in existing.values() if a.active] + gone
    for attendee in removed:
        attendee.active = False
        attendee.save(update_fields=["active"])
    return current, removed


def _meeting_message(
    meeting: Any,
    attendee: Any,
    kind: str,
    channel: str,
    *,
    now: datetime,
    method: str = "",
    due_at: datetime | None = None,
    tag: str = "",
) -> Message | None:
    """The message to one attendee (unsaved), or None when they have no address for the channel."""
    p = attendee.participant
    to = attendee.email if channel == "email" else (p.mobile if p else "")
    if not to:
        return None
    return Message(
        dedupe_key=f"{kind}:{meeting.uid}:{meeting.sequence}:{attendee.pk}:{channel}{tag}",
        kind=kind,
        channel=channel,
        to=to,
        recipient_name=attendee.name,
        organisation=_provider(meeting.case),
        case=meeting.case,
        meeting=meeting,
        participant=p,
        attendee=attendee,
        sequence=meeting.sequence,
        calendar_method=method if channel == "email" else "",
        due_at=due_at or now,
    )


def reminder_due(start: datetime, minutes_before: int) -> datetime:
    """When a reminder goes. Whole days before keep the meeting's time of day in UK time across a change of the
    clocks (a week before a 10am meeting is 10am); shorter offsets are exact."""
    if minutes_before % (24 * 60):
        return start - timedelta(minutes=minutes_before)
    local = start.astimezone(ZoneInfo(settings.DISPLAY_TIME_ZONE))
    return (local - timedelta(minutes=minutes_before)).astimezone(UTC)  # wall-clock arithmetic in the zone


def _reminders(meeting: Any, attendees: list[Any], now: datetime) -> list[Message | None]:
    messages = []
    for offset in _reminder_offsets(_provider(meeting.case)):
        due = reminder_due(meeting.start, int(offset["minutes_before"]))
        if due <= now:
            continue
        for attendee in attendees:
            p = attendee.participant
            if p is None or not wants(p, offset["channel"]):
                continue
            if offset["channel"] == "sms" and p.role not in FAMILY_ROLES:
                continue
            messages.append(
                _meeting_message(
                    meeting,
                    attendee,
                    Message.Kind.REMINDER,
                    offset["channel"],
                    now=now,
                    due_at=due,
                    tag=f":{offset['minutes_before']}",
                )
            )
    return messages


def _announce(meeting: Any, attendees: list[Any], kind: str, method: str, now: datetime) -> list[Message | None]:
    messages = []
    for attendee in attendees:
        if attendee.email:
            messages.append(_meeting_message(meeting, attendee, kind, "email", now=now, method=method))
        p = attendee.participant
        if p is not None and p.role in FAMILY_ROLES and wants(p, "sms"):
            messages.append(_meeting_message(meeting, attendee, kind, "sms", now=now))
    return messages


def _queue(*groups: list[Message | None], keys_are_new: bool = False) -> None:
    messages_queue([m for group in groups for m in group if m is not None], keys_are_new=keys_are_new)


def meeting_confirmed(
    meeting: Any, *, now: datetime, participants: list[Any] | None = None, new_meeting: bool = False
) -> None:
    """A confirmed meeting's attendees, invitations and reminders; writing them twice changes nothing.

    `participants`: the case's, when the caller has just read them. `new_meeting`: the meeting was created in this
    transaction, so it has no attendees and no message can have its keys (they name its UID) yet: nothing is read
    first."""
    attendees, _ = meeting_attendees_sync(meeting, participants=participants, new_meeting=new_meeting)
    _queue(
        _announce(meeting, attendees, Message.Kind.INVITATION, "REQUEST", now),
        _reminders(meeting, attendees, now),
        keys_are_new=new_meeting,
    )


def meeting_changed(meeting: Any, *, now: datetime) -> None:
    """After a reschedule: pending reminders and invitations go; a REQUEST with the new SEQUENCE to everyone current,
    a CANCEL to anyone no longer invited; new reminders."""
    cancel_pending(meeting=meeting)
    attendees, removed = meeting_attendees_sync(meeting)
    _queue(
        _announce(meeting, attendees, Message.Kind.UPDATE, "REQUEST", now),
        [_meeting_message(meeting, a, Message.Kind.CANCELLATION, "email", now=now, method="CANCEL") for a in removed],
        _reminders(meeting, attendees, now),
    )


def meeting_attendees_changed(meeting: Any, *, now: datetime) -> None:
    """The case's people changed under a confirmed meeting: each new attendee gets the invitation and reminders;
    each one no longer invited gets a CANCEL, and their pending messages go."""
    before = {a.pk for a in meeting.attendees.all() if a.active}
    attendees, removed = meeting_attendees_sync(meeting)
    added = [a for a in attendees if a.pk not in before]
    for attendee in removed:
        cancel_pending(attendee=attendee)
    _queue(
        _announce(meeting, added, Message.Kind.INVITATION, "REQUEST", now),
        [_meeting_message(meeting, a, Message.Kind.CANCELLATION, "email", now=now, method="CANCEL") for a in removed],
        _reminders(meeting, added, now),
    )


def meeting_cancelled(meeting: Any, *, now: datetime) -> None:
    cancel_pending(meeting=meeting)
    attendees = [a for a in meeting.attendees.all() if a.active]
    _queue(_announce(meeting, attendees, Message.Kind.CANCELLATION, "CANCEL", now))


def offer_made(offer: Any, *, link: str, now: datetime) -> None:
    """Tell the family about the offered times; remind them a day before the offer expires."""
    for p in _family(offer.case):
        if p.role == "supporter":
            continue
        for channel in ("email", "sms"):
            if not wants(p, channel):
                continue
            common = {
                "channel": channel,
                "to": p.email if channel == "email" else p.mobile,
                "recipient_name": p.name,
                "organisation": _provider(offer.case),
                "case": offer.case,
                "offer": offer,
                "participant": p,
                "context": {"link": link},
            }
            message_queue(
                dedupe_key=f"offer:{offer.pk}:{p.pk}:{channel}", kind=Message.Kind.OFFER, due_at=now, **common
            )
            expiring = offer.expires_at - timedelta(days=1)
            if expiring > now:
                message_queue(
                    dedupe_key=f"offer_expiring:{offer.pk}:{p.pk}:{channel}",
                    kind=Message.Kind.OFFER_EXPIRING,
                    due_at=expiring,
                    **common,
                )


def coordinator_alert(case: Any, *, problem: str, key: str, now: datetime) -> None:
    """Tell the case's coordinators something needs them. Only the case reference and the problem, no details."""
    from core.models import Membership

    provider = _provider(case)
    addresses = [provider.scheduling_email] if provider.scheduling_email else []
    if not addresses:
        addresses = list(
            Membership.objects.filter(organisation=provider, role=Membership.Role.COORDINATOR)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    for address in addresses:
        message_queue(
            dedupe_key=f"alert:{key}:{address}",
            kind=Message.Kind.COORDINATOR_ALERT,
            channel="email",
            to=address,
            organisation=provider,
            case=case,
            due_at=now,
            context={"case_reference": case.reference, "problem": problem},
        )
