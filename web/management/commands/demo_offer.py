"""Make sure one demo case has an open offer, and print the family's booking link.

Safe to run again: while the last offer it made is still open, it prints that offer's link and changes nothing.
Only the token's hash is stored, so the link itself is kept in var/demo-offer-link.txt.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from booking import offers
from booking.models import Case, Offer
from core.errors import ApplicationError

# Demo cases in the scheduling state, tried in this order.
CANDIDATES = ["MED-DEMO-05", "MED-DEMO-06", "MED-DEMO-22", "MED-DEMO-18", "MED-DEMO-20", "MED-DEMO-07"]


class Command(BaseCommand):
    help = "Open an offer on a demo case (idempotent) and print the family's booking link."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off (never in production).")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("The demo offer is for the embedded default (DEBUG on). Use --force to make it anyway.")
        now = timezone.now()
        store = settings.BASE_DIR / "var" / "demo-offer-link.txt"
        if store.exists():
            link = store.read_text().strip()
            offer = offers.offer_from_token(link.rstrip("/").rsplit("/", 1)[-1])
            if offer is not None and offer.status == Offer.Status.OPEN and offer.expires_at > now:
                self._say(offer, link)
                return
        actor = get_user_model().objects.filter(username="coordinator").first()
        for reference in CANDIDATES:
            case = Case.objects.filter(reference=reference).first()
            if case is None:
                continue
            try:
                offer, token = offers.offer_create(case=case, actor=actor, now=now)
            except ApplicationError:
                continue
            link = f"{settings.SITE_URL}/book/{token}/"
            store.parent.mkdir(parents=True, exist_ok=True)
            store.write_text(link + "\n")
            self._say(offer, link)
            return
        raise CommandError("No demo case could be offered times. Load the demo data first (manage.py seed_demo).")

    def _say(self, offer: Offer, link: str) -> None:
        self.stdout.write(f"Open offer on demo case {offer.case.reference}. The family's booking link:\n  {link}")
