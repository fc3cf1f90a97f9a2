"""The audit trail: who viewed or changed each case, meeting and participant, through the API, the pages and the admin.

Reads are recorded by the middleware from the URL (a successful GET naming a case, meeting or participant). Writes are
recorded from model signals, so a change made by any path (a service, the admin, a page, the retention job) is
recorded in the same transaction as the change itself, and a write that fails leaves no record. Only the names of
changed fields are kept, never their values.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.db.models.signals import post_delete, post_init, post_save
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from booking.models import AuditEvent, Case, Meeting, Participant
from core.security import path_for_logs
from core.services import actor_label

AUDITED: dict[type[Model], str] = {Case: "case", Meeting: "meeting", Participant: "participant"}
# Anonymous requests to these paths act by a family's link; any other anonymous caller is the system (webhooks).
FAMILY_LINK_PREFIXES = (
    "/api/offers/", "/api/certificates/", "/api/feedback/", "/book/", "/respond/", "/m/", "/feedback/",
)  # fmt: skip
_IGNORED_FIELDS = {"updated_at"}
_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar("audit_request", default=None)


def _via(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "page"


def _actor(request: HttpRequest | None) -> tuple[Any, str, str]:
    """(user or None, actor kind, label)."""
    if request is None:
        return None, AuditEvent.ActorKind.SYSTEM, "system"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user, AuditEvent.ActorKind.USER, actor_label(user)
    if request.path.startswith(FAMILY_LINK_PREFIXES):
        return None, AuditEvent.ActorKind.FAMILY_LINK, "family link"
    return None, AuditEvent.ActorKind.SYSTEM, "system"


def audit_record(
    *, action: str, object_type: str, object_id: int, case_id: int | None, fields: list[str] | None = None
) -> AuditEvent:
    request = _request.get()
    user, kind, label = _actor(request)
    # Without the access token of a family's or attendee's link: the trail is read by coordinators (the case's audit
    # API) and admins, and the token would let them act as the family.
    path = path_for_logs(request)[:300] if request is not None else ""
    return AuditEvent.objects.create(
        at=timezone.now(),
        actor=user,
        actor_kind=kind,
        actor_label=label,
        action=action,
        object_type=object_type,
        object_id=object_id,
        case_id_ref=case_id,
        path=path,
        via=_via(path) if request is not None else "system",
        fields=sorted(fields or []),
    )


def _case_id(instance: Model) -> int | None:
    return instance.pk if isinstance(instance, Case) else getattr(instance, "case_id", None)


def _snapshot(instance: Model) -> dict[str, Any]:
    deferred = instance.get_deferred_fields()
    return {
        f.attname: getattr(instance, f.attname)
        for f in instance._meta.concrete_fields
        if f.attname not in deferred and f.attname not in _IGNORED_FIELDS
    }


def _on_init(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    instance._audit_initial = _snapshot(instance) if instance.pk is not None else {}  # type: ignore[attr-defined]


def _on_save(sender: type[Model], instance: Model, created: bool, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    current = _snapshot(instance)
    if created:
        action, fields = AuditEvent.Action.CREATE, []
    else:
        before = getattr(instance, "_audit_initial", {})
        fields = [name for name, value in current.items() if name in before and before[name] != value]
        if not fields and before:
            instance._audit_initial = current  # type: ignore[attr-defined]
            return
        action = AuditEvent.Action.CHANGE
        fields = fields or sorted(kwargs.get("update_fields") or [])
    audit_record(
        action=action, object_type=AUDITED[sender], object_id=instance.pk, case_id=_case_id(instance), fields=fields
    )
    instance._audit_initial = current  # type: ignore[attr-defined]


def _on_delete(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    audit_record(
        action=AuditEvent.Action.DELETE, object_type=AUDITED[sender], object_id=instance.pk, case_id=_case_id(instance)
    )


def connect() -> None:
    for model in AUDITED:
        uid = f"audit-{model.__name__}"
        post_init.connect(_on_init, sender=model, dispatch_uid=f"{uid}-init")
        post_save.connect(_on_save, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(_on_delete, sender=model, dispatch_uid=f"{uid}-delete")


_ADMIN_VIEWS = {f"booking_{name}_change": name for name in AUDITED.values()}


def _viewed(request: HttpRequest) -> tuple[str, int, int | None] | None:
    """(object type, id, case id) that a successful GET to this address showed, or None."""
    match = request.resolver_match
    if match is None:
        return None
    kwargs = match.kwargs
    if match.url_name in _ADMIN_VIEWS and str(kwargs.get("object_id", "")).isdigit():
        object_type, object_id = _ADMIN_VIEWS[match.url_name], int(kwargs["object_id"])
        case_id = object_id if object_type == "case" else _case_of(object_type, object_id)
        return object_type, object_id, case_id
    family = _viewed_by_family_link(match.url_name, kwargs.get("token"))
    if family is not None:
        return family
    if "participant_id" in kwargs:
        return "participant", int(kwargs["participant_id"]), kwargs.get("case_id")
    if "meeting_id" in kwargs:
        return "meeting", int(kwargs["meeting_id"]), _case_of("meeting", int(kwargs["meeting_id"]))
    if "case_id" in kwargs:
        return "case", int(kwargs["case_id"]), int(kwargs["case_id"])
    return None


def _viewed_by_family_link(url_name: str | None, token: str | None) -> tuple[str, int, int | None] | None:
    """A family's page (their offer, or their meeting once booked) or an attendee's answer page."""
    if not token:
        return None
    if url_name == "book":
        from booking.offers import offer_from_token

        offer = offer_from_token(token)
        if offer is None:
            return None
        meeting = Meeting.objects.filter(offer_slot__offer=offer).values_list("pk", flat=True).first()
        return ("meeting", meeting, offer.case_id) if meeting else ("case", offer.case_id, offer.case_id)
    if url_name in ("respond", "respond-answer"):
        from booking.links import attendee_from_token

        attendee = attendee_from_token(token)
        return ("meeting", attendee.meeting_id, attendee.meeting.case_id) if attendee else None
    return None


def _case_of(object_type: str, object_id: int) -> int | None:
    model = Meeting if object_type == "meeting" else Participant
    return model.objects.filter(pk=object_id).values_list("case_id", flat=True).first()


class AuditMiddleware:
    """Makes the request known to the audit signals, and records successful reads of audited objects."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            response = self.get_response(request)
            if request.method == "GET" and 200 <= response.status_code < 300:
                viewed = _viewed(request)
                if viewed is not None:
                    object_type, object_id, case_id = viewed
                    audit_record(action=AuditEvent.Action.VIEW, object_type=object_type, object_id=object_id,
                                 case_id=case_id)  # fmt: skip
            return response
        finally:
            _request.reset(token)


def audit_list_for_case(*, case: Case) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(case_id_ref=case.pk).select_related("actor").order_by("at", "id")


class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail can be searched, never edited."""

    list_display = ["at", "actor_label", "actor_kind", "action", "object_type", "object_id", "case_id_ref", "via"]
    list_filter = ["action", "object_type", "actor_kind", "via"]
    search_fields = ["actor_label", "path"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


connect()
if not admin.site.is_registered(AuditEvent):
    admin.site.register(AuditEvent, AuditEventAdmin)
