"""Twilio's callbacks: delivery status and inbound messages (STOP/START). Every request's signature is checked."""

from __future__ import annotations

import phonenumbers
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from notifications.models import Message, SmsNumber
from notifications.transports.sms import validate_twilio_request

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "YES", "UNSTOP"}
# Status order: a callback never moves a message backwards (delivered never becomes sent).
RANK = {"pending": 0, "sending": 1, "sent": 2, "delivered": 3, "failed": 3, "suppressed": 3, "cancelled": 3}
TWILIO_STATUS = {
    "queued": "sending",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "failed",
    "failed": "failed",
}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _signed(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    return bool(signature) and validate_twilio_request(request.build_absolute_uri(), request.POST, signature)


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if not _signed(request):
        return HttpResponseForbidden("invalid signature")
    message = Message.objects.filter(callback_token=request.GET.get("m", "")).first()
    new = TWILIO_STATUS.get(request.POST.get("MessageStatus", ""))
    # Unknown or stale ids still get 200, so Twilio stops retrying.
    if message is None or new is None or RANK[new] <= RANK[message.status] and new != "failed":
        return HttpResponse(status=200)
    if message.status in ("delivered", "failed", "suppressed", "cancelled"):
        return HttpResponse(status=200)
    code = request.POST.get("ErrorCode", "")
    fields = {"status": new}
    if new == "delivered":
        fields["delivered_at"] = timezone.now()
    if new == "failed":
        fields["last_error"] = f"Twilio error {code}" if code else "undelivered"
        if code == "21610":
            fields["status"] = "suppressed"
            SmsNumber.objects.update_or_create(number=message.to, defaults={"opted_out": True})
        elif code in ("21211", "21614"):
            SmsNumber.objects.update_or_create(number=message.to, defaults={"invalid": True})
    Message.objects.filter(pk=message.pk).exclude(status__in=["delivered", "failed", "suppressed"]).update(**fields)
    if fields["status"] == "failed" and message.case_id and code in ("21211", "21614"):
        from notifications.services import coordinator_alert

        coordinator_alert(
            message.case,
            problem="A mobile number on this case is not valid.",
            key=f"invalid:{message.pk}",
            now=timezone.now(),
        )
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    if not _signed(request):
        return HttpResponseForbidden("invalid signature")
    number = _e164(request.POST.get("From", ""))
    word = request.POST.get("Body", "").strip().upper()
    if number and word in STOP_WORDS:
        # Pending SMS to this number are suppressed when their turn comes, and go by email instead.
        SmsNumber.objects.update_or_create(number=number, defaults={"opted_out": True})
    elif number and word in START_WORDS:
        SmsNumber.objects.update_or_create(number=number, defaults={"opted_out": False})
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


def _e164(sender: str) -> str:
    """The sender as the E.164 number we text, or "" for what is not a phone number (a WhatsApp sender's prefix is
    dropped). Not checked against the number plan: a STOP from a range the library does not know yet still counts."""
    try:
        number = phonenumbers.parse(sender.removeprefix("whatsapp:"), "GB")
    except phonenumbers.NumberParseException:
        return ""
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return formatted if 8 <= len(formatted) <= 16 else ""
