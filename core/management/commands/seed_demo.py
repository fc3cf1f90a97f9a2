"""Load the demo data set: fictional organisations, people, mediators, venues and cases at every stage.

Safe to run again: everything is looked up by a fixed key before it is created.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from booking import services as case_services
from booking.models import Case, Participant
from booking.states import State
from core.clock import local_today
from core.models import Membership, Organisation
from scheduling.models import Mediator, MediatorConflict, Room, Venue

DEMO_PASSWORD = "demo-password-1"  # embedded default only; the command refuses to run with DEBUG off

S = State
PATHS: dict[str, list[str]] = {
    S.ADVICE_REQUESTED: [],
    S.MEDIATION_REQUESTED: [S.MEDIATION_REQUESTED],
    S.ISSUES_CAPTURED: [S.MEDIATION_REQUESTED, S.ISSUES_CAPTURED],
    S.ICB_NOTIFIED: [S.MEDIATION_REQUESTED, S.ISSUES_CAPTURED, S.ICB_NOTIFIED],
    S.SCHEDULING: [S.MEDIATION_REQUESTED, S.ISSUES_CAPTURED, S.SCHEDULING],
    S.SCHEDULED: [S.MEDIATION_REQUESTED, S.ISSUES_CAPTURED, S.SCHEDULING, S.SCHEDULED],
    S.HELD: [S.MEDIATION_REQUESTED, S.ISSUES_CAPTURED, S.SCHEDULING, S.SCHEDULED, S.HELD],
    S.CONCLUDED: [S.MEDIATION_REQUESTED, S.ISSUES_CAPTURED, S.SCHEDULING, S.SCHEDULED, S.HELD, S.CONCLUDED],
    S.CERTIFICATE_ISSUED: [
        S.MEDIATION_REQUESTED, S.ISSUES_CAPTURED, S.SCHEDULING, S.SCHEDULED, S.HELD, S.CONCLUDED,
        S.CERTIFICATE_ISSUED,
    ],
    S.ACTIONS_OPEN: [
        S.MEDIATION_REQUESTED, S.ISSUES_CAPTURED, S.SCHEDULING, S.SCHEDULED, S.HELD, S.CONCLUDED,
        S.CERTIFICATE_ISSUED, S.ACTIONS_OPEN,
    ],
    S.CLOSED: [
        S.MEDIATION_REQUESTED, S.ISSUES_CAPTURED, S.SCHEDULING, S.SCHEDULED, S.HELD, S.CONCLUDED,
        S.CERTIFICATE_ISSUED, S.CLOSED,
    ],
    S.DECLINED: [S.DECLINED],
    S.WITHDRAWN: [S.MEDIATION_REQUESTED, S.WITHDRAWN],
    S.NOT_ARRANGED_30_DAYS: [S.MEDIATION_REQUESTED, S.ISSUES_CAPTURED, S.SCHEDULING, S.NOT_ARRANGED_30_DAYS],
}  # fmt: skip


@dataclass(frozen=True)
class DemoCase:
    key: str
    state: str
    decision_days_ago: int
    route: str = Case.Route.EDUCATION_SOCIAL_CARE
    decision: str = Case.Decision.PLAN_CONTENTS
    placement_only: bool = False
    la: str = "west-downs"
    parent: str = "Sam Okafor"
    language: str = "en"


R = Case.Route
D = Case.Decision
CASES = [
    DemoCase("01", S.ADVICE_REQUESTED, 6, decision=D.REFUSE_ASSESSMENT, parent="Priya Raman"),
    DemoCase("02", S.MEDIATION_REQUESTED, 12, parent="Tom Hadley"),
    DemoCase("03", S.ISSUES_CAPTURED, 20, parent="Aisha Begum", language="bn"),
    DemoCase("04", S.ICB_NOTIFIED, 22, route=R.JOINT_HEALTH, parent="Gareth Lloyd"),
    DemoCase("05", S.SCHEDULING, 25, parent="Marta Nowak", language="pl"),
    DemoCase("06", S.SCHEDULING, 40, decision=D.NO_PLAN, parent="Chloe Brennan"),
    DemoCase("07", S.SCHEDULING, 33, route=R.JOINT_HEALTH, parent="Daniel Mensah"),
    DemoCase("08", S.SCHEDULED, 35, parent="Hannah Price"),
    DemoCase("09", S.SCHEDULED, 38, decision=D.CEASE_PLAN, la="east-weald", parent="Joe Whitfield"),
    DemoCase("10", S.HELD, 45, parent="Leah Fischer"),
    DemoCase("11", S.CONCLUDED, 50, parent="Oliver Grant"),
    DemoCase("12", S.CERTIFICATE_ISSUED, 60, parent="Nadia Haddad"),
    DemoCase("13", S.ACTIONS_OPEN, 70, decision=D.REFUSE_AMENDMENT, parent="Ryan Cole"),
    DemoCase("14", S.CLOSED, 90, parent="Emma Sutherland"),
    DemoCase("15", S.DECLINED, 15, parent="Kofi Asante"),
    DemoCase("16", S.WITHDRAWN, 26, parent="Isla Murray"),
    DemoCase("17", S.NOT_ARRANGED_30_DAYS, 50, parent="Zara Ahmed"),
    DemoCase("18", S.SCHEDULING, 28, placement_only=True, parent="Ben Carter"),
    DemoCase("19", S.MEDIATION_REQUESTED, 10, route=R.HEALTH_ONLY, decision=D.PLAN_CONTENTS, parent="Ruth Evans"),
    DemoCase("20", S.SCHEDULING, 18, route=R.DISAGREEMENT_RESOLUTION, decision=D.NONE, parent="Adam Novak"),
    DemoCase("21", S.ISSUES_CAPTURED, 16, la="east-weald", parent="Grace Adeyemi"),
    DemoCase("22", S.SCHEDULING, 30, decision=D.REFUSE_REASSESSMENT, la="east-weald", parent="Luke Harris"),
]

MEDIATORS = [
    # name, specialisms, languages, areas, online, in_person, years of accreditation left
    ("Alex Morgan", ["health", "social_care"], ["en"], ["west-downs", "east-weald"], True, True, 2),
    ("Bethan Jones", ["post_16"], ["en", "cy"], ["west-downs"], True, True, 1),
    ("Chris Adebayo", ["health"], ["en", "yo"], ["west-downs"], True, False, 3),
    (
        "Dana Whitaker",
        ["social_care", "early_years"],
        ["en", "bsl"],
        ["west-downs", "east-weald"],
        True,
        True,
        2,
    ),
    ("Eilidh Campbell", [], ["en"], ["east-weald"], True, True, 1),
    ("Farid Karimi", ["health"], ["en", "fa", "ur"], ["west-downs"], True, True, 2),
    ("Georgia Pryce", ["disagreement_resolution"], ["en"], ["west-downs", "east-weald"], False, True, 1),
    ("Harriet Osei", ["post_16", "social_care"], ["en", "tw"], ["west-downs"], True, True, 2),
    ("Ivan Petrov", [], ["en", "ru", "pl"], ["east-weald"], True, True, -1),  # accreditation lapsed
]

USERS = [
    # username, first, last, organisation code, role
    ("coordinator", "Casey", "Lane", "harbour-mediation", Membership.Role.COORDINATOR),
    ("la.officer", "Morgan", "Reeve", "west-downs", Membership.Role.COORDINATOR),
    ("east.officer", "Jordan", "Fleet", "east-weald", Membership.Role.COORDINATOR),
    ("health.rep", "Sasha", "Greenwood", "south-downs-icb", Membership.Role.HEALTH_REPRESENTATIVE),
    ("commissioner", "Robin", "Ashdown", "west-downs", Membership.Role.COMMISSIONER),
]


class Command(BaseCommand):
    help = "Load the demo data set (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off (never in production).")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("The demo data is for the embedded default (DEBUG on). Use --force to load it anyway.")
        with transaction.atomic():
            created = seed(today=local_today())
        self.stdout.write(f"Demo data ready ({created} new cases).")


def _user(username: str, first: str, last: str, *, superuser: bool = False) -> Any:
    User = get_user_model()
    user, made = User.objects.get_or_create(
        username=username,
        defaults={"first_name": first, "last_name": last, "email": f"{username}@demo.example.org"},
    )
    if made:
        user.set_password(DEMO_PASSWORD)
        user.is_staff = True
        user.is_superuser = superuser
        user.save()
    return user


def _organisations() -> dict[str, Organisation]:
    specs = [
        ("west-downs", "West Downs County Council", Organisation.Kind.LOCAL_AUTHORITY, ""),
        ("east-weald", "East Weald Borough Council", Organisation.Kind.LOCAL_AUTHORITY, ""),
        ("south-downs-icb", "NHS South Downs Integrated Care Board", Organisation.Kind.ICB, ""),
        (
            "harbour-mediation",
            "Harbour SEND Mediation",
            Organisation.Kind.PROVIDER,
            "scheduling@harbour.example.org",
        ),
        ("other-provider", "Northfield Mediation (another tenant)", Organisation.Kind.PROVIDER, ""),
        ("north-shire", "North Shire Council (another tenant)", Organisation.Kind.LOCAL_AUTHORITY, ""),
    ]
    orgs = {}
    for code, name, kind, email in specs:
        orgs[code], _ = Organisation.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind, "scheduling_email": email}
        )
    if not orgs["harbour-mediation"].sender_name:  # its legal name says "SEND"; families see a neutral one
        orgs["harbour-mediation"].sender_name = "Harbour Mediation"
        orgs["harbour-mediation"].save(update_fields=["sender_name"])
    orgs["harbour-mediation"].served_authorities.add(orgs["west-downs"], orgs["east-weald"])
    orgs["other-provider"].served_authorities.add(orgs["north-shire"])
    orgs["west-downs"].partner_icbs.add(orgs["south-downs-icb"])
    orgs["east-weald"].partner_icbs.add(orgs["south-downs-icb"])
    return orgs


def _mediators(orgs: dict[str, Organisation], today: date) -> list[Mediator]:
    provider = orgs["harbour-mediation"]
    mediators = []
    for i, (name, specialisms, languages, areas, online, in_person, years) in enumerate(MEDIATORS, start=1):
        username = f"mediator{i}"
        first, last = name.split(" ", 1)
        user = _user(username, first, last)
        Membership.objects.get_or_create(user=user, organisation=provider, role=Membership.Role.MEDIATOR)
        mediator, made = Mediator.objects.get_or_create(
            user=user,
            defaults={
                "provider": provider, "name": name, "email": f"{username}@harbour.example.org",
                "accreditation_expires": today + timedelta(days=365 * years), "register_id": f"SEND-{1000 + i}",
                "specialisms": specialisms, "languages": languages, "online": online, "in_person": in_person,
                "independence_declared_on": today - timedelta(days=100),
            },
        )  # fmt: skip
        if made:
            mediator.areas.set([orgs[a] for a in areas])
            if i == 5:
                MediatorConflict.objects.create(
                    mediator=mediator, kind=MediatorConflict.Kind.SCHOOL, description="Downsview Academy",
                    declared_on=today - timedelta(days=200),
                )  # fmt: skip
        mediators.append(mediator)
    return mediators


def _venues(orgs: dict[str, Organisation]) -> None:
    specs = [
        ("County Hall, Downsbridge", orgs["west-downs"], "County Hall, West Street, Downsbridge", "DB1 1AA",
         ["step_free", "hearing_loop", "accessible_toilet", "parking"], ["Committee Room 1", "Committee Room 2"]),
        ("Harbour Mediation Centre", orgs["harbour-mediation"], "2 Quay Lane, Seabrook", "SB2 4QL",
         ["step_free", "quiet_room", "breakout_rooms"], ["Large room", "Small room"]),
        ("Weald Library meeting room", orgs["east-weald"], "Library, High Street, Wealdham", "WH3 9LB",
         ["hearing_loop"], ["Upstairs room"]),
    ]  # fmt: skip
    for name, owner, address, postcode, features, rooms in specs:
        venue, _ = Venue.objects.get_or_create(
            name=name,
            owner=owner,
            defaults={"address": address, "postcode": postcode, "features": features,
                      "opens_at": time(9, 0), "closes_at": time(17, 0)},
        )  # fmt: skip
        for room in rooms:
            Room.objects.get_or_create(venue=venue, name=room, defaults={"features": features})
    Venue.objects.get_or_create(name="Online meeting", owner=orgs["harbour-mediation"], defaults={"online_only": True})


def _case(spec: DemoCase, orgs: dict[str, Organisation], actor: Any, mediators: list[Mediator], today: date) -> bool:
    reference = f"MED-DEMO-{spec.key}"
    if Case.objects.filter(reference=reference).exists():
        return False
    start = today - timedelta(days=spec.decision_days_ago)
    health = spec.route in (R.JOINT_HEALTH, R.HEALTH_ONLY)
    case = case_services.case_create(
        actor=actor, provider=orgs["harbour-mediation"], local_authority=orgs[spec.la],
        icbs=[orgs["south-downs-icb"]] if health else [], route=spec.route, decision=spec.decision,
        placement_only=spec.placement_only, health_involved=health, today=today,
        issues="(demo) The family disagrees with the provision described in the plan.",
        child_name="(demo child)", decision_sent=start, adviser_contacted=start + timedelta(days=2),
    )  # fmt: skip
    case.reference = reference
    case.save(update_fields=["reference"])
    steps = list(PATHS[spec.state])
    if health and S.ISSUES_CAPTURED in steps and S.ICB_NOTIFIED not in steps and len(steps) > 2:
        steps.insert(steps.index(S.ISSUES_CAPTURED) + 1, S.ICB_NOTIFIED)
    day = start + timedelta(days=3)
    step_gap = max(1, (spec.decision_days_ago - 3) // max(len(steps), 1))
    for target in steps:
        case = case_services.case_transition(
            case=case, actor=actor, target=target, on=min(day, today), today=today, system=True,
            reason="demo history",
        )  # fmt: skip
        day += timedelta(days=step_gap)
    if spec.state not in (S.ADVICE_REQUESTED, S.MEDIATION_REQUESTED, S.DECLINED):
        case.mediator = mediators[int(spec.key) % 8]
        case.save(update_fields=["mediator"])
    _participants(case, spec, mediator=case.mediator)
    return True


def _participants(case: Case, spec: DemoCase, *, mediator: Mediator | None) -> None:
    P = Participant.Role
    rows = [
        dict(role=P.PARENT, name=spec.parent, email=f"parent{spec.key}@family.example.org",
             mobile="+447911123456", preferred_channels=["email", "sms"], language=spec.language),
        dict(role=P.SUPPORTER, name="Pat Ellis", relationship="SENDIASS adviser", required=False,
             email=f"supporter{spec.key}@sendias.example.org"),
        dict(role=P.LA_OFFICER, name="Morgan Reeve", decision_authority=True, email="la.officer@demo.example.org"),
    ]  # fmt: skip
    if case.health_involved:
        rows.append(dict(role=P.HEALTH_REPRESENTATIVE, name="Sasha Greenwood", decision_authority=True,
                         email="health.rep@demo.example.org"))  # fmt: skip
    if spec.language not in ("en", ""):
        rows.append(dict(role=P.INTERPRETER, name="Language Line interpreter", interpreter_language=spec.language))
    if mediator is not None:
        rows.append(dict(role=P.MEDIATOR, name=mediator.name, email=mediator.email))
    for row in rows:
        required = row.pop("required", row["role"] not in Participant.OPTIONAL_BY_DEFAULT)
        Participant.objects.create(case=case, required=required, **row)


def seed(*, today: date) -> int:
    orgs = _organisations()
    _user("admin", "Demo", "Admin", superuser=True)
    for username, first, last, code, role in USERS:
        user = _user(username, first, last)
        Membership.objects.get_or_create(user=user, organisation=orgs[code], role=role)
    other = _user("other.coordinator", "Other", "Tenant")
    Membership.objects.get_or_create(user=other, organisation=orgs["other-provider"], role=Membership.Role.COORDINATOR)
    mediators = _mediators(orgs, today)
    _venues(orgs)
    actor = get_user_model().objects.get(username="coordinator")
    return sum(_case(spec, orgs, actor, mediators, today) for spec in CASES)
