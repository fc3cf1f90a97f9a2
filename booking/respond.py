"""Attendees' answers from the links in their emails: accept, decline, or ask for another time.

A GET only shows the question (mail scanners open links); the answer is a POST.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from booking.answers import attendee_answer
from booking.links import ANSWERS, attendee_from_token
from notifications.render import place_of

LABELS = {"accept": "I can come", "decline": "I cannot come", "another-time": "I need another time"}


@require_http_methods(["GET", "POST"])
def respond(request: HttpRequest, token: str, answer: str | None = None) -> HttpResponse:
    attendee = attendee_from_token(token)
    if attendee is None or (answer is not None and answer not in ANSWERS):
        return render(request, "booking/respond.html", {"missing": True}, status=404)
    meeting = attendee.meeting
    context = {
        "tz": settings.DISPLAY_TIME_ZONE,
        "attendee": attendee,
        "meeting": meeting,
        "place": place_of(meeting),
        "answer": answer,
        "labels": LABELS,
        "choices": [answer] if answer else list(LABELS),
    }
    if request.method == "POST":
        chosen = request.POST.get("answer", "")
        if meeting.status != meeting.Status.CONFIRMED or meeting.end <= timezone.now():
            context["error"] = "This meeting is no longer open for answers."
            return render(request, "booking/respond.html", context, status=409)
        if chosen not in ANSWERS:
            context["error"] = "Choose one of the answers."
            return render(request, "booking/respond.html", context, status=400)
        attendee_answer(attendee=attendee, answer=chosen, sequence=meeting.sequence, now=timezone.now())
        context.update({"done": True, "answer": chosen})
    return render(request, "booking/respond.html", context)


def respond_short(request: HttpRequest, token: str) -> HttpResponse:
    """The short link in an SMS (128 random bits, no signature, to stay within 160 characters): goes to the page."""
    from django.shortcuts import redirect

    from booking.links import answer_token
    from booking.models import MeetingAttendee

    attendee = MeetingAttendee.objects.filter(token=token, active=True).first()
    if attendee is None:
        return render(request, "booking/respond.html", {"missing": True}, status=404)
    return redirect("respond", token=answer_token(attendee))
