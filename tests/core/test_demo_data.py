from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

pytestmark = pytest.mark.django_db


def test_demo_data_is_complete_and_loading_it_twice_changes_nothing() -> None:
    from booking.models import Case, CaseEvent, Participant
    from core.management.commands.seed_demo import seed
    from core.models import Organisation
    from scheduling.models import Mediator, Venue

    assert seed(today=date(2026, 11, 27)) >= 20
    counts = (Case.objects.count(), CaseEvent.objects.count(), Participant.objects.count(), Mediator.objects.count())
    assert seed(today=date(2026, 11, 27)) == 0
    assert (Case.objects.count(), CaseEvent.objects.count(), Participant.objects.count(), Mediator.objects.count()) == (
        counts
    )
    assert Mediator.objects.count() >= 8
    assert Venue.objects.filter(online_only=False).count() >= 2
    assert Organisation.objects.filter(kind="icb").exists()
    states = Counter(Case.objects.values_list("state", flat=True))
    assert len(states) >= 12, states
    assert Case.objects.filter(mediation_due__isnull=False).count() >= 15


def test_the_command_refuses_to_run_outside_the_embedded_default() -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("seed_demo")
