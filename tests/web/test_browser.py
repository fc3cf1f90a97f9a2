"""The three journeys in a real browser (Debian's chromium through Playwright) against the live test server, with
axe-core on every page and screenshots saved in screenshots/. The browser also reports anything the content security
policy blocked on those pages, the API docs and the admin (core/security.py): there must be nothing."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from booking.models import Meeting, Offer
from tests.booking import helpers
from tests.web.conftest import NOW, TODAY
from tests.web.factories import offered_case
from web.selectors import optional_model

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _watch_csp(target: Any) -> list[str]:
    """What the content security policy blocked on this page or context, as chromium reports it on the console
    ("Refused to ... because it violates the following Content Security Policy directive ...")."""
    blocked: list[str] = []
    target.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    return blocked


@pytest.fixture
def csp_violations(page: Any) -> list[str]:
    return _watch_csp(page.context)


def _sign_in(page: Any, base: str, username: str, check_page: Any = None) -> None:
    page.goto(f"{base}/sign-in/")
    if check_page is not None:
        check_page(page, "sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_a_family_picks_a_time_and_the_meeting_is_confirmed(
    live_server: Any, page: Any, check_page: Any, csp_violations: list[str]
) -> None:
    base = live_server.url
    with time_machine.travel(NOW, tick=True):
        _, case, offer, token = offered_case(today=TODAY, now=NOW)
        page.goto(f"{base}/")
        check_page(page, "home")

        page.goto(f"{base}/book/{token}/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
        check_page(page, "family-choose")

        page.get_by_role("button", name="Confirm this time").click()
        summary = page.locator(".govuk-error-summary")
        summary.wait_for()
        # app.js (a deferred script) moves the focus once it has run, which may be just after the summary shows.
        expect(summary).to_be_focused()
        check_page(page, "family-choose-error")
        summary.get_by_role("link", name="Choose a time for the meeting").click()
        assert page.evaluate("document.activeElement.id") == "id_slot_0"

        page.keyboard.press("Space")  # choose the first time with the keyboard
        page.get_by_label("Their name").fill("Pat Friend")
        page.get_by_label("How they know you").fill("aunt")
        page.get_by_label("Which language?").fill("Polish")
        page.get_by_role("button", name="Confirm this time").click()
        page.get_by_role("heading", name="Your meeting is booked").wait_for()
        check_page(page, "family-booked")

        page.set_viewport_size({"width": 320, "height": 800})
        page.reload()
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        check_page(page, "family-booked-320px")

        page.get_by_role("link", name="I can’t make this time").click()
        check_page(page, "family-new-time")
        page.get_by_role("link", name="Back").click()
        page.get_by_role("link", name="Cancel the meeting").click()
        check_page(page, "family-cancel")

    meeting = Meeting.objects.get(case=case)
    first = offer.slots.order_by("rank").first()
    assert meeting.status == "confirmed" and meeting.start == first.start
    assert case.participants.filter(role="supporter", name="Pat Friend").exists()
    assert csp_violations == []
    messages = optional_model("notifications.Message")
    if messages is not None and messages.objects.filter(meeting=meeting).exists():
        assert messages.objects.filter(meeting=meeting, kind="invitation").exists()


def test_an_expired_link_says_what_happened(
    live_server: Any, page: Any, check_page: Any, csp_violations: list[str]
) -> None:
    with time_machine.travel(NOW, tick=False):
        _, _, offer, token = offered_case(today=TODAY, now=NOW)
    with time_machine.travel(offer.expires_at + timedelta(hours=1), tick=True):
        response = page.goto(f"{live_server.url}/book/{token}/")
        assert response.status == 410
        page.get_by_role("heading", name="This booking link has expired").wait_for()
        assert "0300 123 4567" in page.content()
        check_page(page, "family-expired")
        response = page.goto(f"{live_server.url}/book/1.not-a-real:link/")
        assert response.status == 404
        check_page(page, "family-unknown-link")
    assert Offer.objects.get(pk=offer.pk).status == "open"  # a look changes nothing
    assert csp_violations == []


def _first_slot_day(page: Any) -> tuple[str, str]:
    """(ISO date, label) of the first time the slot search lists."""
    box = page.locator("input[name=slot]").first
    label = page.locator(f"label[for={box.get_attribute('id')}]").inner_text()
    return box.get_attribute("value")[:10], label.split(",")[0]


def test_a_mediators_day_off_removes_that_days_slots(live_server: Any, browser: Any, check_page: Any) -> None:
    base = live_server.url
    with time_machine.travel(NOW, tick=True):
        t = helpers.tenant(today=TODAY)
        t["coordinator"].set_password("pw")
        t["coordinator"].save()
        mediator = helpers.mediator(t, user=get_user_model().objects.create_user("mia", password="pw"))
        case = helpers.case(t, la_notified=date(2026, 11, 20))
        coordinator = browser.new_context(viewport={"width": 1024, "height": 900})
        mediator_page = browser.new_context(viewport={"width": 1024, "height": 900}).new_page()
        blocked_staff, blocked_mediator = _watch_csp(coordinator), _watch_csp(mediator_page.context)
        staff = coordinator.new_page()
        _sign_in(staff, base, t["coordinator"].username)
        staff.goto(f"{base}/cases/{case.pk}/slots/")
        iso_day, day_label = _first_slot_day(staff)
        assert staff.get_by_text(day_label).count() >= 1

        _sign_in(mediator_page, base, "mia", check_page)
        assert mediator_page.url.endswith("/mediator/")
        mediator_page.get_by_label("Not available (day off)").check()
        mediator_page.get_by_label("First day").fill(iso_day)
        mediator_page.get_by_label("Note (optional)").fill("Training")
        mediator_page.get_by_role("button", name="Add this change").click()
        mediator_page.get_by_text("Day off added").wait_for()
        check_page(mediator_page, "mediator")

        staff.reload()
        assert staff.locator("input[name=slot]").count() > 0
        labels = staff.locator("input[name=slot] + label").all_inner_texts()
        assert not [label for label in labels if label.startswith(day_label + ",")]
        check_page(staff, "coordinator-slots")
        coordinator.close()
        mediator_page.context.close()
    assert blocked_staff == [] and blocked_mediator == []
    assert mediator.resource.exceptions.get().first_day.isoformat() == iso_day


def test_a_coordinator_offers_chosen_slots(
    live_server: Any, page: Any, check_page: Any, csp_violations: list[str]
) -> None:
    base = live_server.url
    with time_machine.travel(NOW, tick=True):
        t = helpers.tenant(today=TODAY)
        t["coordinator"].set_password("pw")
        t["coordinator"].save()
        helpers.mediator(t)
        case = helpers.case(t, la_notified=date(2026, 11, 20))
        helpers.case(t, la_notified=date(2026, 10, 30))  # due in 2 days: at risk
        _sign_in(page, base, t["coordinator"].username)
        assert page.url.endswith("/dashboard/")
        check_page(page, "coordinator-dashboard")
        page.get_by_role("link", name=case.reference, exact=True).click()
        page.locator("h1", has_text=case.reference).wait_for()
        check_page(page, "coordinator-case")
        page.get_by_role("link", name="Find times").click()
        boxes = page.locator("input[name=slot]")
        days = [label.split(",")[0] for label in page.locator("input[name=slot] + label").all_inner_texts()]
        other_day = next(i for i, day in enumerate(days) if day != days[0])  # held times must not overlap
        boxes.nth(0).check()
        boxes.nth(other_day).check()
        page.get_by_role("button", name="Offer the chosen times").click()
        page.get_by_text("2 times offered to the family").wait_for()
        assert "/book/" in page.locator("#offer-link").inner_text()
        check_page(page, "coordinator-case-offered")
    offer = Offer.objects.get(case=case)
    assert offer.status == "open" and offer.slots.count() == 2
    assert csp_violations == []


def test_the_policy_watch_sees_what_the_policy_blocks(live_server: Any, page: Any, csp_violations: list[str]) -> None:
    """The control for the tests above: an inline script added to a page is blocked, and the watch reports it."""
    page.goto(f"{live_server.url}/")
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = true';"
        " document.head.appendChild(s); }"
    )
    page.wait_for_timeout(100)
    assert page.evaluate("window.ran") is None
    assert csp_violations and "script-src 'self'" in csp_violations[0]


def test_the_api_docs_run_under_the_policy(live_server: Any, page: Any, csp_violations: list[str]) -> None:
    response = page.goto(f"{live_server.url}/api/docs/")
    assert "script-src 'self';" in response.headers["content-security-policy"]
    page.locator(".swagger-ui .info .title", has_text="SEND mediation booking API").wait_for()
    page.locator(".opblock-summary-path", has_text="/api/cases/").first.wait_for()
    page.locator(".opblock").first.click()  # an operation opens (the UI's scripts work, its styles apply)
    page.locator(".opblock-body").first.wait_for()
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(250, 250, 250)"
    assert csp_violations == []


def test_the_admin_runs_under_the_policy(live_server: Any, page: Any, csp_violations: list[str]) -> None:
    from core.models import Organisation

    get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    Organisation.objects.create(kind="local_authority", name="LA One", code="la-one")
    base = live_server.url
    page.goto(f"{base}/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Site administration").wait_for()
    # A form with the two-box selector, an inline and an autocomplete: the admin's busiest scripts.
    page.goto(f"{base}/admin/core/organisation/add/")
    page.locator("#id_served_authorities_from").wait_for()
    page.locator("#id_served_authorities_from option", has_text="LA One").dblclick()
    assert page.locator("#id_served_authorities_to option", has_text="LA One").count() == 1
    page.locator("#memberships-group .add-row a").click()
    assert page.locator("#memberships-group tbody tr.form-row:not(.empty-form)").count() >= 1
    page.goto(f"{base}/admin/booking/auditevent/")
    page.locator("#changelist").wait_for()
    page.goto(f"{base}/admin/core/organisation/")
    page.locator("#changelist-search").wait_for()
    assert csp_violations == []


def test_the_answer_and_report_pages_keep_their_styles(live_server: Any, page: Any, csp_violations: list[str]) -> None:
    base = live_server.url
    response = page.goto(f"{base}/respond/not-a-real-link/")
    assert response.status == 404
    page.get_by_role("heading", name="We cannot find this link").wait_for()
    assert "Arial" in page.evaluate("getComputedStyle(document.body).fontFamily")  # booking/respond.css applied
    with time_machine.travel(NOW, tick=True):
        t = helpers.tenant(today=TODAY)
        t["coordinator"].set_password("pw")
        t["coordinator"].save()
        _sign_in(page, base, t["coordinator"].username)
        page.goto(f"{base}/reports/")
        page.get_by_role("heading", name="Mediation report", exact=False).first.wait_for()
        assert page.evaluate("getComputedStyle(document.querySelector('header')).color") == "rgb(255, 255, 255)"
    assert csp_violations == []
