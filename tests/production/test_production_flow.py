"""Production mode in real processes, driven over HTTP.

gunicorn (config.wsgi, 2 workers), a Celery worker and beat run with `config.django.production` and secrets made up
here, on the test database (PostgreSQL), a private Redis, the local SMTP server (aiosmtpd) and the local Twilio
endpoint. The test is a TLS proxy's client: it sends the public host name and X-Forwarded-Proto: https, and checks that
plain http is redirected. Base data (organisations, a coordinator with a password, a mediator and the mediator's
weekly availability) is written with the ORM before the processes start and committed (transaction=True), because the
processes see only committed rows; every step of the case itself goes over HTTP.

Reminders. A reminder is written at booking time only if it is due later than that (`_reminders` skips one already
due), and it is due a whole number of minutes before a meeting that starts on the quarter hour, so it falls on a whole
minute. The test never fakes time in the processes; instead, just before the family accepts, it gives the provider a
reminder schedule (notifications.ReminderSchedule, what a coordinator sets in the admin) whose offset puts one SMS and
one email reminder on the first whole minute at least ACCEPT_MARGIN from now. The dispatcher (beat, every 15 s) hands
them out; its schedule is phased to the wall clock's quarter minutes (the PeriodicTask's last run, before beat starts),
so a reminder due on a whole minute goes within a second or so instead of up to 15 s later. The test therefore lasts
about 10 s plus the wait for the next whole minute (0 to 60 s).

The SMS quiet hours (20:00-08:00 London) are switched off with SMS_QUIET_HOURS="" (README: "empty: none"), a setting a
deployment may choose, so the test passes at any hour.
"""

from __future__ import annotations

import io
import re
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from typing import Any

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import call_command
from django.utils import timezone
from icalendar import Calendar
from twilio.request_validator import RequestValidator

from core.clock import local_today
from tests.production.deployment import (
    ROOT,
    SITE_URL,
    Deployment,
    Web,
    database_url_of_tests,
    free_port,
    production_env,
    wait_for,
)
from tests.servers.redis import run_redis

pytestmark = [pytest.mark.production, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
SID, TOKEN = "AC" + "b" * 32, "production-test-auth-token"
ACCEPT_MARGIN = timedelta(seconds=3)  # the accept request and its commit finish well within this
PARENT = {"name": "Sam Parent", "email": "sam@family.example.org", "mobile": "+447911123456"}
OFFICER = {"name": "Olive Officer", "email": "olive@county.example.org"}
MEDIATOR = {"name": "Mia Mediator", "email": "mia@provider.example.org"}
DISPATCH = "notifications.tasks.dispatch_due_task"


@pytest.fixture
def deployment(tmp_path: Any, smtp_server: Any, twilio_fake: Any) -> Iterator[Deployment]:
    with run_redis() as redis:
        env = production_env(
            database_url=database_url_of_tests(), redis_port=redis.port, smtp_port=smtp_server.port,
            twilio_url=twilio_fake.url, twilio_sid=SID, twilio_token=TOKEN,
        )  # fmt: skip
        # What a deploy runs before starting the web processes: the static files under hashed names.
        env["DJANGO_STATIC_ROOT"] = str(tmp_path / "static")
        collected = subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert collected.returncode == 0, collected.stderr
        deployment = Deployment(env, tmp_path)
        try:
            yield deployment
        finally:
            try:
                deployment.stop()
            finally:
                print(deployment.report())  # the processes' output: pytest shows it when the test failed


def _base_data(password: str) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from core.models import Membership, Organisation
    from scheduling.models import AvailabilityRule, Mediator
    from scheduling.occupancy import resource_for_mediator

    provider = Organisation.objects.create(
        kind="provider", name="Mediation Provider", code="provider", scheduling_email="scheduling@provider.example.org"
    )
    county = Organisation.objects.create(kind="local_authority", name="County Council", code="county")
    provider.served_authorities.add(county)
    coordinator = get_user_model().objects.create_user(
        "casey", email="casey@provider.example.org", first_name="Casey", last_name="Coordinator"
    )
    # Hashed as production hashes it: the test settings' fast MD5 hasher is not one production accepts.
    hasher = PBKDF2PasswordHasher()
    coordinator.password = hasher.encode(password, hasher.salt())
    coordinator.save(update_fields=["password"])
    Membership.objects.create(user=coordinator, organisation=provider, role="coordinator")
    mediator = Mediator.objects.create(
        provider=provider, accreditation_expires=local_today() + timedelta(days=3 * 365), **MEDIATOR
    )
    mediator.areas.add(county)
    resource = resource_for_mediator(mediator)
    for weekday in range(5):
        AvailabilityRule.objects.create(resource=resource, weekday=weekday, start_time=clock(9), end_time=clock(17))
    return {"provider": provider, "county": county, "mediator": mediator}


def _periodic_tasks(*, dispatcher_phase: datetime | None = None) -> None:
    """What a deploy runs (manage.py setup_periodic_tasks), and optionally when the dispatcher last ran."""
    from django_celery_beat.models import PeriodicTask

    call_command("setup_periodic_tasks", stdout=io.StringIO())
    if dispatcher_phase is not None:
        PeriodicTask.objects.filter(task=DISPATCH).update(last_run_at=dispatcher_phase)


def _quarter_minute_floor(moment: datetime) -> datetime:
    return moment.replace(second=moment.second - moment.second % 15, microsecond=0)


def _next_whole_minute(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status == status, f"{answer.status}: {answer.body[:500]!r}"
    return answer.json()


def _texts(received: Any) -> str:
    parsed = received.parsed()
    return "\n".join(p.get_content() for p in parsed.walk() if p.get_content_type() in ("text/plain", "text/html"))


def _calendar_part(received: Any) -> Any:
    return next((p for p in received.parsed().walk() if p.get_content_type() == "text/calendar"), None)


def test_a_case_goes_from_offer_to_invitations_and_reminders_through_the_production_processes(
    deployment: Deployment, smtp_server: Any, twilio_fake: Any
) -> None:
    from booking.models import Meeting
    from notifications.models import Message, ReminderSchedule

    password = secrets.token_urlsafe(16)
    base = _base_data(password)
    now = timezone.now()
    _periodic_tasks(dispatcher_phase=_quarter_minute_floor(now) + timedelta(seconds=0.3))
    port = free_port()
    deployment.gunicorn(port, workers=2)
    deployment.worker(concurrency=2)
    deployment.beat()
    web = Web(port)
    wait_for(web.answers, timeout=30, what="gunicorn to answer", deployment=deployment)

    # Behind the proxy: plain http is sent to https; the API wants a token.
    plain = web.request("GET", "/api/cases/", https=False)
    assert plain.status == 301 and plain.headers["location"] == f"{SITE_URL}/api/cases/"
    assert web.request("GET", "/api/cases/").status == 401
    token = _ok(web.request("POST", "/api/auth/token/", {"username": "casey", "password": password}))["token"]

    # The coordinator opens the case, adds the people, captures the issues, assigns the mediator and offers times.
    case = _ok(
        web.request(
            "POST", "/api/cases/", token=token,
            body={
                "provider": base["provider"].pk, "local_authority": base["county"].pk, "route": "education_social_care",
                "decision": "plan_contents", "state": "mediation_requested", "la_notified": local_today().isoformat(),
            },
        ),
        201,
    )  # fmt: skip
    participants = f"/api/cases/{case['id']}/participants/"
    parent = {**PARENT, "role": "parent", "preferred_channels": ["email", "sms"]}
    _ok(web.request("POST", participants, parent, token=token), 201)
    _ok(
        web.request("POST", participants, {**OFFICER, "role": "la_officer", "decision_authority": True}, token=token),
        201,
    )
    _ok(web.request("POST", participants, {**MEDIATOR, "role": "mediator"}, token=token), 201)
    moved = web.request("POST", f"/api/cases/{case['id']}/transitions/", {"to": "issues_captured"}, token=token)
    assert _ok(moved)["state"] == "issues_captured"
    _ok(web.request("POST", f"/api/cases/{case['id']}/mediator/", {"mediator": base["mediator"].pk}, token=token))
    offer = _ok(web.request("POST", f"/api/cases/{case['id']}/offers/", {}, token=token), 201)
    assert len(offer["options"]) == 3

    # The family's email (sent by the worker at once) holds their booking link.
    def offer_email() -> Any:
        return next((r for r in smtp_server.received if r.rcpt_tos == [PARENT["email"]]), None)

    email = wait_for(offer_email, timeout=30, what="the offer email", deployment=deployment)
    link = re.search(rf"{re.escape(SITE_URL)}/book/([^/\s\"<]+)/", _texts(email))
    assert link is not None, _texts(email)
    family_token = link.group(1)
    assert family_token == offer["token"]
    page = web.request("GET", f"/book/{family_token}/", headers={"Accept": "text/html"})
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert (
        page.headers["strict-transport-security"].startswith("max-age=") and page.headers["x-frame-options"] == "DENY"
    )
    # Its stylesheet comes from the web process itself, under a hashed name, cached for long.
    stylesheet = re.search(r'<link rel="stylesheet" href="(/static/[^"]+\.css)"', page.body.decode())
    assert stylesheet is not None, page.body[:600]
    css = web.request("GET", stylesheet.group(1))
    assert css.status == 200 and css.headers["content-type"].startswith("text/css")
    assert re.search(r"\.[0-9a-f]{12}\.css$", stylesheet.group(1)) and "immutable" in css.headers["cache-control"]
    view = _ok(web.request("GET", f"/api/offers/{family_token}/"))
    chosen = next(option for option in view["options"] if option["still_available"])

    # One SMS and one email reminder on the first whole minute after the accept (see the module's docstring).
    start = datetime.fromisoformat(chosen["start"]).astimezone(UTC)
    reminders_due = _next_whole_minute(timezone.now() + ACCEPT_MARGIN)
    minutes = int((start - reminders_due).total_seconds()) // 60
    offsets = [{"channel": "sms", "minutes_before": minutes}, {"channel": "email", "minutes_before": minutes}]
    ReminderSchedule.objects.create(organisation=base["provider"], offsets=offsets)

    accepted = _ok(web.request("POST", f"/api/offers/{family_token}/accept/", {"slot": chosen["slot"]}))
    assert accepted["status"] == "confirmed" and accepted["start"] == chosen["start"]
    assert timezone.now() < reminders_due, "the accept took longer than ACCEPT_MARGIN: no reminder was written"
    meeting = Meeting.objects.get(case_id=case["id"])
    reminders = Message.objects.filter(meeting=meeting, kind="reminder")
    assert sorted(reminders.values_list("channel", "to")) == sorted(
        [("email", PARENT["email"]), ("email", OFFICER["email"]), ("email", MEDIATOR["email"]),
         ("sms", PARENT["mobile"])]
    )  # fmt: skip
    assert {r.due_at for r in reminders} == {reminders_due}

    # Invitations go at once; the reminders when the dispatcher finds them due.
    def all_sent() -> bool:
        due = Message.objects.filter(due_at__lte=timezone.now())
        return (
            not due.filter(status__in=["pending", "sending"]).exists() and reminders.filter(status="sent").count() == 4
        )

    wait_for(all_sent, timeout=(reminders_due - timezone.now()).total_seconds() + 30, what="every due message",
             deployment=deployment)  # fmt: skip

    # Each attendee's invitation: one email to them alone, with the calendar request for this meeting.
    invitations = [r for r in smtp_server.received if _calendar_part(r) is not None]
    assert sorted(r.rcpt_tos[0] for r in invitations) == sorted([PARENT["email"], OFFICER["email"], MEDIATOR["email"]])
    for received in invitations:
        assert len(received.rcpt_tos) == 1
        part = _calendar_part(received)
        assert part.get_param("method") == "REQUEST"
        calendar = Calendar.from_ical(part.get_content())
        assert str(calendar["METHOD"]) == "REQUEST" and str(calendar.events[0]["UID"]) == meeting.uid

    # Every message exactly once: what the servers got is what the outbox says was sent, one for one.
    sent = Message.objects.filter(status="sent")
    assert not Message.objects.filter(status__in=["sending", "failed"]).exists()
    assert not Message.objects.filter(status="pending", due_at__lte=timezone.now()).exists()
    emails, texts = sent.filter(channel="email"), sent.filter(channel="sms")
    assert Counter(k for k in emails.values_list("kind", flat=True)) == {"offer": 1, "invitation": 3, "reminder": 3}
    assert Counter(k for k in texts.values_list("kind", flat=True)) == {"offer": 1, "invitation": 1, "reminder": 1}
    message_ids = Counter(r.parsed()["Message-ID"] for r in smtp_server.received)
    assert message_ids == Counter(emails.values_list("provider_id", flat=True))
    callbacks = [r.form["StatusCallback"] for r in twilio_fake.created]
    assert Counter(callbacks) == Counter(
        f"{SITE_URL}/webhooks/twilio/status/?m={token}" for token in texts.values_list("callback_token", flat=True)
    )
    assert {r.form["To"] for r in twilio_fake.created} == {PARENT["mobile"]}

    # Twilio's delivery callback reaches the web process through the proxy: signed for the public https address.
    reminder_sms = reminders.get(channel="sms")
    url = f"{SITE_URL}/webhooks/twilio/status/?m={reminder_sms.callback_token}"
    params = {"MessageSid": reminder_sms.provider_id, "MessageStatus": "delivered"}
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    path = url.removeprefix(SITE_URL)
    forged = web.request("POST", path, params, form=True, headers={"X-Twilio-Signature": signature[::-1]})
    assert forged.status == 403
    delivered = web.request("POST", path, params, form=True, headers={"X-Twilio-Signature": signature})
    assert delivered.status == 200
    reminder_sms.refresh_from_db()
    assert reminder_sms.status == "delivered"


# Two beats ---------------------------------------------------------------------------------------------------------

BEAT_SENT = re.compile(
    r"^\[(?P<at>[\d-]+ [\d:]+,\d+): INFO/MainProcess\] Scheduler: Sending due task .+ \((?P<task>[\w.]+)\)$", re.M
)
WORKER_TASK = re.compile(r"^\[[^\]]+\] Task (?P<task>[\w.]+)\[[\w-]+\] (?P<what>received|succeeded)", re.M)
# Each periodic task's run_once name (PeriodicRun.job).
RUN_ONCE_JOB = {
    "notifications.tasks.dispatch_due_task": "dispatch",
    "notifications.tasks.maintenance_task": "maintenance",
    "scheduling.tasks.calendars_sync_due_task": "calendars_sync",
    "scheduling.tasks.calendar_push_due_task": "calendar_push",
    "booking.tasks.certificates_due_alerts_task": "certificates_due",
    "booking.tasks.retention_apply_task": "retention",
}
SLOT_MARGIN_SECONDS = 10


def _sent_by(beat: Any) -> list[tuple[datetime, str]]:
    """(when, task) for every task this beat sent, from its log (local time, as the processes share this one's)."""
    return [
        (datetime.strptime(m["at"], "%Y-%m-%d %H:%M:%S,%f").astimezone(UTC), m["task"])
        for m in BEAT_SENT.finditer(beat.output())
    ]


def _worker_counts(worker: Any) -> Counter[tuple[str, str]]:
    return Counter((m["task"], m["what"]) for m in WORKER_TASK.finditer(worker.output()))


def _early_in_a_quarter_minute() -> None:
    """Wait, if need be, for a 15-second slot (the shortest period) with SLOT_MARGIN_SECONDS left, so that the processes
    start, and both beats' start-up round is sent and run, inside one slot of every job."""
    left = 15 - time.time() % 15
    if left < SLOT_MARGIN_SECONDS:
        time.sleep(left + 0.2)


def test_two_beats_started_by_mistake_run_each_periodic_job_once_per_slot(
    deployment: Deployment, smtp_server: Any
) -> None:
    """Two beats (as if started on two machines) and a worker. The periodic tasks' last run is a day ago (a beat
    restarted after an outage), so at start-up each beat sends every job at once: each job is sent twice in one slot
    and must run once. One due message is waiting; it must go out once."""
    from django_celery_beat.models import PeriodicTask

    from core.models import Organisation
    from notifications.management.commands.setup_periodic_tasks import JOBS
    from notifications.models import Message, PeriodicRun

    assert {task for _, task, _ in JOBS} == set(RUN_ONCE_JOB)
    _periodic_tasks()
    PeriodicTask.objects.filter(task__in=RUN_ONCE_JOB).update(last_run_at=timezone.now() - timedelta(days=1))
    provider = Organisation.objects.create(kind="provider", name="Mediation Provider", code="provider")
    waiting = Message.objects.create(
        kind="coordinator_alert", channel="email", to="casey@provider.example.org", organisation=provider,
        due_at=timezone.now() - timedelta(minutes=1), dedupe_key="alert:two-beats",
        context={"case_reference": "MED-1", "problem": "A test of two beats."},
    )  # fmt: skip
    _early_in_a_quarter_minute()
    worker = deployment.worker(concurrency=2)
    beats = [deployment.beat("beat-1"), deployment.beat("beat-2")]

    def round_done() -> tuple[list[list[tuple[datetime, str]]], Counter[tuple[str, str]]] | None:
        sent = [_sent_by(beat) for beat in beats]
        # A beat writes its first send to the database at once, so a beat starting a moment later may skip that job.
        if any(len({task for _, task in s}) < len(JOBS) - 1 for s in sent):
            return None
        ran = _worker_counts(worker)
        every = Counter(task for s in sent for _, task in s)
        if set(every) != set(RUN_ONCE_JOB) or any(ran[(task, "succeeded")] < n for task, n in every.items()):
            return None
        return sent, ran

    sent, ran = wait_for(round_done, timeout=45, what="both beats' start-up round", deployment=deployment)
    wait_for(lambda: Message.objects.filter(pk=waiting.pk, status="sent").exists(), timeout=15,
             what="the waiting message", deployment=deployment)  # fmt: skip

    runs = {
        job: sorted(PeriodicRun.objects.filter(job=job).values_list("slot", flat=True)) for job in RUN_ONCE_JOB.values()
    }
    twice = 0
    for _, task, period in JOBS:
        times = [at for s in sent for at, name in s if name == task]
        assert ran[(task, "received")] == ran[(task, "succeeded")] == len(times), (task, ran)
        # However many times it was sent, a job runs once in each slot its sends fell in.
        slots = Counter(int(at.timestamp()) // period for at in times)
        assert runs[RUN_ONCE_JOB[task]] == sorted(slots), (task, times, runs)
        twice += any(count > 1 for count in slots.values())
    assert twice >= len(JOBS) - 1, f"only {twice} jobs were sent by both beats in one slot: {sent}"
    assert len(smtp_server.received) == 1 and smtp_server.received[0].rcpt_tos == [waiting.to]
