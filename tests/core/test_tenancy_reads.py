"""How tenancy is read: memberships once per request (forgotten when one changes), and the check of one case that
`case_get` makes in Python agreeing with the list's query for every kind of user."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from booking import selectors
from booking.models import Case
from core.models import Membership, Organisation
from core.tenancy import memberships_remembered, organisation_ids_for
from tests.booking import helpers

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 27)


def test_memberships_are_read_once_per_request_and_forgotten_when_one_changes() -> None:
    t = helpers.tenant(today=TODAY)
    user = t["coordinator"]
    other = Organisation.objects.create(kind="provider", name="Other", code="other-p")
    with memberships_remembered():
        with CaptureQueriesContext(connection) as queries:
            assert organisation_ids_for(user) == {t["provider"].pk}
            assert organisation_ids_for(user, "coordinator") == {t["provider"].pk}
            assert organisation_ids_for(user, "mediator") == set()
        assert len(queries) == 1
        Membership.objects.create(user=user, organisation=other, role="coordinator")
        assert organisation_ids_for(user) == {t["provider"].pk, other.pk}
    # Outside a request nothing is kept: each call reads.
    with CaptureQueriesContext(connection) as queries:
        organisation_ids_for(user)
        organisation_ids_for(user)
    assert len(queries) == 2


def test_a_request_reads_the_users_memberships_once() -> None:
    t = helpers.tenant(today=TODAY)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    client = APIClient()
    client.force_authenticate(t["coordinator"])
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/api/cases/{case.pk}/").status_code == 200
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "core_membership"' in q["sql"]]
    assert len(reads) == 1, reads


def test_case_get_agrees_with_the_case_list_for_every_kind_of_user() -> None:
    User = get_user_model()
    t = helpers.tenant(today=TODAY)
    icb = Organisation.objects.create(kind="icb", name="ICB", code="icb-1")
    other_icb = Organisation.objects.create(kind="icb", name="Other ICB", code="icb-2")
    health_rep = User.objects.create_user("health", password="pw")
    Membership.objects.create(user=health_rep, organisation=icb, role="health_representative")
    mediator_user = User.objects.create_user("mediator-user", password="pw")
    mediator = helpers.mediator(t, user=mediator_user)
    stranger = User.objects.create_user("stranger", password="pw")
    Membership.objects.create(user=stranger, organisation=other_icb, role="health_representative")
    commissioner = User.objects.create_user("commissioner", password="pw")
    Membership.objects.create(user=commissioner, organisation=t["la"], role="commissioner")
    admin = User.objects.create_superuser("admin", password="pw")

    plain = helpers.case(t, la_notified=date(2026, 11, 20))
    with_health = helpers.case(t, la_notified=date(2026, 11, 20))
    Case.objects.filter(pk=with_health.pk).update(route="joint_health", health_involved=True)
    with_health.icbs.set([icb])
    health_not_involved = helpers.case(t, la_notified=date(2026, 11, 20))
    health_not_involved.icbs.set([icb])
    mediated = helpers.case(t, la_notified=date(2026, 11, 20))
    mediated.mediator = mediator
    mediated.save()
    cases = [plain, with_health, health_not_involved, mediated]
    users = [t["coordinator"], t["officer"], health_rep, mediator_user, stranger, commissioner, admin, AnonymousUser()]

    seen = {}
    for user in users:
        for case in cases:
            listed = selectors.case_list(user=user).filter(pk=case.pk).exists()
            try:
                selectors.case_get(user=user, case_id=case.pk)
                got = True
            except Http404:
                got = False
            assert got == listed, (user.username or "anonymous", case.pk)
            seen[(user.username or "anonymous", case.pk)] = got
    # The rule itself, so that the two cannot agree by both being wrong.
    assert seen[("health", with_health.pk)] and not seen[("health", health_not_involved.pk)]
    assert seen[("mediator-user", mediated.pk)] and not seen[("mediator-user", plain.pk)]
    assert not any(seen[("stranger", c.pk)] for c in cases)
    assert not any(seen[("commissioner", c.pk)] for c in cases)
    assert not any(seen[("anonymous", c.pk)] for c in cases)
    assert all(seen[("admin", c.pk)] for c in cases)
    assert all(seen[(t["officer"].username, c.pk)] for c in cases)  # coordinator of the case's LA
    with pytest.raises(Http404):
        selectors.case_get(user=t["coordinator"], case_id=10**9)
