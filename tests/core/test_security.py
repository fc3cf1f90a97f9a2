"""The content security policy on every response, the sign-in throttle, idle sessions and the shared cache
(core/security.py, core/cache.py). The browser's view of the policy is in tests/web/test_browser.py."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from core.models import SignInFailure
from core.security import SignInThrottled, client_address, path_for_logs, sign_in_attempt_begin

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)
PASSWORD = "right-password-1"


@pytest.fixture(autouse=True)
def _fresh_throttles(monkeypatch: pytest.MonkeyPatch) -> None:
    """DRF's rate limits count in the cache and the sign-in throttle prunes once a minute per process: each test
    starts with neither carried over from another (a 429 must come from the limit the test is about)."""
    cache.clear()
    monkeypatch.setattr("core.security._last_pruned", None)


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password=PASSWORD)


def _from(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def _page_sign_in(username: str, password: str, address: str = "192.0.2.1", **extra: str) -> Any:
    return _from(address).post("/sign-in/", {"username": username, "password": password}, **extra)


def _api_sign_in(username: str, password: str, address: str = "192.0.2.1", **extra: str) -> Any:
    client = APIClient(REMOTE_ADDR=address)
    return client.post("/api/auth/token/", {"username": username, "password": password}, format="json", **extra)


def _signed_in(response: Any) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.wsgi_request.session


# --- Content security policy ---------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/", 200),  # a page
        ("get", "/sign-in/", 200),
        ("get", "/book/1.not-a-real:link/", 404),  # a family's page
        ("get", "/respond/not-a-real-link/", 404),  # an attendee's answer page (booking templates)
        ("get", "/no-such-page/", 404),
        ("get", "/dashboard/", 302),  # a redirect to sign in
        ("get", "/api/cases/", 401),  # the API
        ("post", "/api/auth/token/", 400),
        ("get", "/api/schema/", 200),
        ("get", "/api/docs/", 200),  # Swagger UI and its start-up script
        ("get", "/api/docs/?script=", 200),
        ("get", "/admin/login/", 200),  # the admin
        ("get", "/admin/", 302),
        ("get", "/calendar/not-a-feed.ics", 404),
        ("post", "/webhooks/twilio/status/", 403),
    ],
)
def test_every_kind_of_response_carries_the_policy(method: str, path: str, status: int) -> None:
    response = getattr(Client(), method)(path)
    assert response.status_code == status
    assert response.headers["Content-Security-Policy"] == POLICY


@pytest.mark.django_db
def test_the_admin_and_a_refused_form_carry_the_policy(django_user_model: Any) -> None:
    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("root", "root@example.org", PASSWORD))
    for path in ("/admin/", "/admin/core/organisation/", "/admin/core/organisation/add/"):
        response = admin.get(path)
        assert (response.status_code, response.headers["Content-Security-Policy"]) == (200, POLICY)
    forged = Client(enforce_csrf_checks=True).post("/sign-in/", {"username": "x", "password": "y"})
    assert forged.status_code == 403
    assert forged.headers["Content-Security-Policy"] == POLICY
    assert "The form has expired" in forged.content.decode()  # our page: Django's own has an inline <style>


@pytest.mark.django_db
def test_the_api_docs_have_no_inline_code() -> None:
    page = Client().get("/api/docs/").content.decode()
    assert "<style" not in page and " style=" not in page
    assert re.findall(r"<script([^>]*)>\s*</script>", page) == re.findall(r"<script([^>]*)>", page)  # all empty
    assert '<script src="/api/docs/?script="></script>' in page
    script = Client().get("/api/docs/?script=")
    assert script.headers["Content-Type"] == "application/javascript"
    assert script.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "SwaggerUIBundle(" in script.content.decode() and "/api/schema/" in script.content.decode()


@pytest.mark.django_db
def test_only_the_browsable_api_may_use_inline_styles_and_never_scripts(alice: Any) -> None:
    client = Client()
    client.force_login(alice)
    browsable = client.get("/api/organisations/", HTTP_ACCEPT="text/html")
    assert browsable.status_code == 200 and browsable.headers["Content-Type"].startswith("text/html")
    assert "style-src 'self' 'unsafe-inline';" in browsable.headers["Content-Security-Policy"]
    assert "script-src 'self';" in browsable.headers["Content-Security-Policy"]
    assert client.get("/api/organisations/").headers["Content-Security-Policy"] == POLICY


@pytest.mark.django_db
def test_only_djangos_debug_pages_go_without_the_policy(settings: Any) -> None:
    settings.DEBUG = True
    debug_404 = Client().get("/no-such-page/")
    assert debug_404.status_code == 404 and "Content-Security-Policy" not in debug_404.headers
    assert Client().get("/").headers["Content-Security-Policy"] == POLICY
    assert Client().get("/respond/not-a-real-link/").headers["Content-Security-Policy"] == POLICY


_SERVED_TEMPLATES = [ROOT / "web" / "templates", ROOT / "booking" / "templates"]
_INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an event handler attribute"),
    (re.compile(r"javascript:", re.I), "a javascript: address"),
]


def test_no_served_template_has_inline_script_or_style() -> None:
    """Everything the policy would block, found before a browser does. (The emails in notifications/templates keep
    their inline styles: mail programs need them, and no browser loads them from this service.)"""
    templates = [path for folder in _SERVED_TEMPLATES for path in folder.rglob("*.html")]
    assert len(templates) > 20
    found = [
        f"{path.relative_to(ROOT)}: {what}"
        for path in templates
        for pattern, what in _INLINE
        if pattern.search(path.read_text())
    ]
    assert found == []


# --- Sign-in throttle ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_eleventh_check_for_an_account_is_refused_even_with_the_right_password(alice: Any) -> None:
    with time_machine.travel(NOW, tick=False):
        for n in range(10):  # from ten addresses: the account's count, not an address's
            assert _page_sign_in("alice", "wrong", address=f"192.0.2.{n + 1}").status_code == 200
        refused = _page_sign_in("alice", PASSWORD, address="198.51.100.7")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "900"
    assert "Too many failed sign-in attempts" in refused.content.decode()
    assert "Try again in 15 minutes" in refused.content.decode()
    assert "_auth_user_id" not in refused.wsgi_request.session
    # The API refuses the same account, in the API's error shape.
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        api = _api_sign_in("alice", PASSWORD, address="198.51.100.8")
    assert api.status_code == 429
    assert api.headers["Retry-After"] == "600"
    assert api.json() == {
        "message": "Too many failed sign-in attempts for this account or from this network. Try again in 10 minutes.",
        "extra": {"retry_after_seconds": 600},
    }


@pytest.mark.django_db
def test_the_eleventh_check_from_an_address_is_refused_whichever_the_account(alice: Any) -> None:
    with time_machine.travel(NOW, tick=False):
        for n in range(10):
            assert _api_sign_in(f"guess{n}", "wrong", address="203.0.113.9").status_code == 400
        assert _api_sign_in("alice", PASSWORD, address="203.0.113.9").status_code == 429
        assert _page_sign_in("alice", PASSWORD, address="203.0.113.9").status_code == 429
        # Alice herself, from her own address, is not held up by someone else's guesses.
        assert _api_sign_in("alice", PASSWORD, address="192.0.2.50").status_code == 200


@pytest.mark.django_db
def test_after_the_window_sign_in_works_again(alice: Any) -> None:
    with time_machine.travel(NOW, tick=False):
        for _ in range(10):
            _page_sign_in("alice", "wrong")
    with time_machine.travel(NOW + timedelta(minutes=14, seconds=59), tick=False):
        refused = _page_sign_in("alice", PASSWORD)
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, "1")
    with time_machine.travel(NOW + timedelta(minutes=15), tick=False):
        assert _signed_in(_page_sign_in("alice", PASSWORD))
    # The window slides: failures spread over time free one check each as the oldest leave it.
    SignInFailure.objects.all().delete()
    for minute in range(10):
        with time_machine.travel(NOW + timedelta(hours=1, minutes=minute), tick=False):
            _page_sign_in("alice", "wrong")
    with time_machine.travel(NOW + timedelta(hours=1, minutes=15), tick=False):
        assert _page_sign_in("alice", "wrong").status_code == 200  # the first has left the window
        assert _page_sign_in("alice", PASSWORD).status_code == 429  # but only one place was freed


@pytest.mark.django_db
def test_a_success_does_not_wipe_the_address_count_of_other_accounts(alice: Any, django_user_model: Any) -> None:
    django_user_model.objects.create_user("bob", password=PASSWORD)
    with time_machine.travel(NOW, tick=False):
        for _ in range(8):
            _page_sign_in("bob", "wrong", address="192.0.2.1")
        _page_sign_in("alice", "wrong", address="192.0.2.1")
        assert _signed_in(_page_sign_in("alice", PASSWORD, address="192.0.2.1"))  # forgives alice's own failure
        for _ in range(2):
            _page_sign_in("carol", "wrong", address="192.0.2.1")  # bob's 8 + carol's 2: the address is at the limit
        assert _page_sign_in("alice", PASSWORD, address="192.0.2.1").status_code == 429
        assert _api_sign_in("bob", PASSWORD, address="192.0.2.1").status_code == 429


@pytest.mark.django_db
def test_checks_under_way_count_each_other() -> None:
    """Ten password checks started at the same moment (none finished) leave no room for an eleventh: each check is
    recorded before the password is tested, so parallel guesses cannot all slip under the limit."""
    for _ in range(10):
        sign_in_attempt_begin(username="alice", address="192.0.2.1")
    with pytest.raises(SignInThrottled):
        sign_in_attempt_begin(username="alice", address="198.51.100.1")
    with pytest.raises(SignInThrottled):
        sign_in_attempt_begin(username="bob", address="192.0.2.1")
    assert SignInFailure.objects.count() == 10  # a refused check leaves no record, so it does not extend the wait


@pytest.mark.django_db
def test_the_username_is_counted_whatever_its_case(alice: Any) -> None:
    for n in range(10):
        _page_sign_in("ALICE" if n % 2 else "Alice", "wrong", address=f"192.0.2.{n + 1}")
    assert _page_sign_in("alice", PASSWORD, address="198.51.100.1").status_code == 429


@pytest.mark.django_db
def test_a_forged_forwarded_for_header_is_ignored(alice: Any) -> None:
    for n in range(10):
        _api_sign_in(f"guess{n}", "wrong", address="192.0.2.1", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    refused = _api_sign_in("alice", PASSWORD, address="192.0.2.1", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert refused.status_code == 429
    # The sign-in throttle's refusal (the address's ten failures), not the token endpoint's own rate limit.
    assert refused.json()["message"].startswith("Too many failed sign-in attempts for this account or from this")
    assert set(refused.json()["extra"]) == {"retry_after_seconds"}


@pytest.mark.django_db
def test_the_admin_sign_in_is_counted_and_refused_with_a_page(alice: Any) -> None:
    for _ in range(10):
        _from("192.0.2.1").post("/admin/login/", {"username": "alice", "password": "wrong"})
    refused = _from("192.0.2.1").post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "900"
    assert "Too many failed sign-in attempts" in refused.content.decode()


@pytest.mark.django_db
def test_old_failures_are_pruned(alice: Any) -> None:
    with time_machine.travel(NOW, tick=False):
        for _ in range(3):
            _page_sign_in("alice", "wrong")
    with time_machine.travel(NOW + timedelta(minutes=16), tick=False):
        _page_sign_in("alice", "wrong")
    assert list(SignInFailure.objects.values_list("at", flat=True)) == [NOW + timedelta(minutes=16)]


def _writes(queries: CaptureQueriesContext) -> list[str]:
    """The statements that changed SignInFailure rows."""
    return [q["sql"].split()[0] for q in queries.captured_queries if "signinfailure" in q["sql"].lower()
            and not q["sql"].lstrip().upper().startswith("SELECT")]  # fmt: skip


@pytest.mark.django_db
def test_old_failures_are_pruned_at_most_once_a_minute(alice: Any) -> None:
    """Not on every attempt: a burst of guesses would each run the same DELETE over the table."""
    with time_machine.travel(NOW, tick=False):
        _page_sign_in("alice", "wrong")
    for minutes, deletes in [(16, 1), (16.5, 0), (16.99, 0), (17, 1), (17.2, 0), (30, 1)]:
        with time_machine.travel(NOW + timedelta(minutes=minutes), tick=False), CaptureQueriesContext(connection) as q:
            assert _page_sign_in("alice", "wrong", address=f"192.0.2.{int(minutes * 10) % 250}").status_code == 200
        assert _writes(q).count("DELETE") == deletes, minutes
    assert not SignInFailure.objects.filter(at__lte=NOW + timedelta(minutes=15)).exists()


@pytest.mark.django_db
def test_a_refused_attempt_writes_nothing(alice: Any) -> None:
    """Counted first: past the limit, a check is refused before anything is inserted, deleted or pruned, so a flood
    of refused guesses costs reads only."""
    with time_machine.travel(NOW, tick=False):
        for n in range(10):
            _page_sign_in("alice", "wrong", address=f"192.0.2.{n + 1}")
    with time_machine.travel(NOW + timedelta(minutes=16), tick=False):
        SignInFailure.objects.update(at=NOW + timedelta(minutes=10))  # still in the window, and old rows to prune:
        SignInFailure.objects.create(account="x", address="y", at=NOW - timedelta(hours=1))
        with CaptureQueriesContext(connection) as page:
            assert _page_sign_in("alice", PASSWORD, address="198.51.100.1").status_code == 429
        with CaptureQueriesContext(connection) as api:
            assert _api_sign_in("alice", PASSWORD, address="198.51.100.2").status_code == 429
        with CaptureQueriesContext(connection) as direct, pytest.raises(SignInThrottled):
            sign_in_attempt_begin(username="alice", address="198.51.100.3")
    assert _writes(page) == _writes(api) == _writes(direct) == []
    assert SignInFailure.objects.count() == 11


# --- Tunable limits (DJANGO_SIGN_IN_FAILURE_*) -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_limits_and_the_window_are_settings(alice: Any, settings: Any) -> None:
    settings.SIGN_IN_FAILURE_LIMIT_PER_ACCOUNT = 3
    settings.SIGN_IN_FAILURE_WINDOW_MINUTES = 5
    with time_machine.travel(NOW, tick=False):
        for n in range(3):
            assert _page_sign_in("alice", "wrong", address=f"192.0.2.{n + 1}").status_code == 200
        refused = _page_sign_in("alice", PASSWORD, address="198.51.100.7")
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "300")
    assert "Try again in 5 minutes" in refused.content.decode()
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        assert _signed_in(_page_sign_in("alice", PASSWORD, address="198.51.100.7"))


@pytest.mark.django_db
def test_an_office_gateway_may_raise_the_address_limit_but_not_the_accounts(alice: Any, settings: Any) -> None:
    """Staff behind one shared public address share its count; raising it leaves each account's limit at 10."""
    settings.SIGN_IN_FAILURE_LIMIT_PER_ADDRESS = 25
    with time_machine.travel(NOW, tick=False):
        for n in range(20):
            assert _page_sign_in(f"colleague{n}", "wrong", address="203.0.113.9").status_code == 200
        assert _signed_in(_page_sign_in("alice", PASSWORD, address="203.0.113.9"))  # 20 would be too many by default
        for n in range(10):
            assert _page_sign_in("alice", "wrong", address=f"192.0.2.{n + 1}").status_code == 200
        assert _page_sign_in("alice", PASSWORD, address="203.0.113.9").status_code == 429  # the account's 10
        for n in range(5):
            assert _page_sign_in(f"colleague{n}", "wrong", address="203.0.113.9").status_code == 200
        assert _page_sign_in("bob", "wrong", address="203.0.113.9").status_code == 429  # the address's 25


# --- Sessions from before the throttle -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_session_made_by_djangos_own_backend_is_signed_out(alice: Any, settings: Any) -> None:
    """The decision (README, Security): Django's ModelBackend is not listed, not even after the throttled one (it
    would check every failed password a second time, uncounted), and Django's get_user keeps a session only if its
    backend path is listed exactly (a subclass does not count). So the sessions made before the throttle ended at
    its deploy: staff signed in once more."""
    assert settings.AUTHENTICATION_BACKENDS == ["core.security.ThrottledModelBackend"]
    with time_machine.travel(NOW, tick=False):
        before = Client()
        before.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
        signed_out = before.get("/staff/")
        after = Client()
        after.force_login(alice)
        assert after.get("/staff/").status_code == 200
    assert signed_out.status_code == 302 and signed_out["Location"].startswith("/sign-in/")


# --- The admin's password change -------------------------------------------------------------------------------------

NEW = {"new_password1": "A-new-passphrase-2026", "new_password2": "A-new-passphrase-2026"}


@pytest.fixture
def sam(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("sam", password=PASSWORD, is_staff=True)


def _password_change(client: Client, old: str, **new: str) -> Any:
    return client.post("/admin/password_change/", {"old_password": old, **(new or NEW)})


@pytest.mark.django_db
def test_the_admin_password_change_counts_wrong_old_passwords_and_refuses_past_the_limit(sam: Any) -> None:
    """A stolen staff session cannot try passwords there without limit: each wrong old password is a failure for the
    account and the address, and past the limit the change is refused (429) even with the right one."""
    with time_machine.travel(NOW, tick=False):
        stolen = _from("203.0.113.66")
        stolen.force_login(sam)
        for n in range(10):
            wrong = _password_change(stolen, f"guess-{n}")
            assert wrong.status_code == 200 and "entered incorrectly" in wrong.content.decode()
        refused = _password_change(stolen, PASSWORD)
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, "900")
        assert "Too many failed sign-in attempts" in refused.content.decode()
        sam.refresh_from_db()
        assert sam.check_password(PASSWORD)  # unchanged
        assert _page_sign_in("sam", PASSWORD, address="192.0.2.5").status_code == 429  # the account is locked
        assert _page_sign_in("alice", "anything", address="203.0.113.66").status_code == 429  # and the address


@pytest.mark.django_db
def test_the_right_old_password_changes_it_and_forgives_that_accounts_failures_there(sam: Any) -> None:
    with time_machine.travel(NOW, tick=False):
        staff = _from("192.0.2.8")
        staff.force_login(sam)
        for n in range(9):
            _password_change(staff, f"guess-{n}")
        assert SignInFailure.objects.count() == 9
        blank = _password_change(staff, "")  # the form asks for it; no password was checked, nothing counted
        assert blank.status_code == 200 and SignInFailure.objects.count() == 9
        changed = _password_change(staff, PASSWORD)
    assert changed.status_code == 302 and changed["Location"] == "/admin/password_change/done/"
    sam.refresh_from_db()
    assert sam.check_password(NEW["new_password1"])
    assert SignInFailure.objects.count() == 0


@pytest.mark.django_db
def test_a_forged_password_change_is_refused_before_it_counts(sam: Any) -> None:
    forged = Client(enforce_csrf_checks=True, REMOTE_ADDR="192.0.2.8")
    forged.force_login(sam)
    assert _password_change(forged, "guess").status_code == 403
    assert SignInFailure.objects.count() == 0


@pytest.mark.django_db
def test_no_other_page_checks_a_password_outside_the_throttle() -> None:
    """Every password check goes through authenticate() (the throttled backend) or is the admin's password change
    (counted by SignInThrottleMiddleware). A new form that calls check_password, or Django's PasswordChangeForm,
    must be counted the same way: this test names the files that may."""
    allowed = {"core/security.py"}
    sources = [p for app in ("core", "booking", "scheduling", "notifications", "web", "config") for p in
               (ROOT / app).rglob("*.py")]  # fmt: skip
    found = sorted(
        str(path.relative_to(ROOT))
        for path in sources
        if re.search(r"check_password|PasswordChangeForm|PasswordChangeView|SetPasswordForm", path.read_text())
    )
    assert [path for path in found if path not in allowed] == []
    urls = (ROOT / "config" / "urls.py").read_text() + (ROOT / "web" / "urls.py").read_text()
    assert "django.contrib.auth.urls" not in urls and "rest_framework.urls" not in urls


@pytest.mark.django_db
def test_failures_are_logged_with_who_and_where_but_nothing_typed(alice: Any, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="core.security")
    _page_sign_in("alice", "Secret-typed-1", address="192.0.2.44")
    _page_sign_in("Secret-typed-2", "anything", address="192.0.2.44")  # a password typed into the username box
    assert SignInFailure.objects.count() == 2
    assert not SignInFailure.objects.filter(account__icontains="alice").exists()  # digests, never text
    text = caplog.text
    assert "Sign-in failed for user 'alice'" in text and "from 192.0.2.44" in text
    assert "Sign-in failed for an unknown username from 192.0.2.44" in text
    assert "Secret-typed" not in text


@pytest.mark.django_db
def test_an_administrator_finds_an_ipv6_lock_by_the_address(alice: Any, django_user_model: Any) -> None:
    """The throttle counts an IPv6 caller by its /64; the search takes any address in it, or the /64 as logged."""
    for n in range(10):
        _page_sign_in(f"guess{n}", "wrong", address=f"2001:db8:1:2::{n + 1:x}")
    _page_sign_in("guess", "wrong", address="2001:db8:1:3::1")  # another /64
    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("root", "root@example.org", PASSWORD))
    for typed in ("2001:db8:1:2::1", "2001:DB8:1:2:ffff:ffff:ffff:ffff", " 2001:db8:1:2::/64", "2001:db8:1:2:0::/64"):
        found = admin.get("/admin/core/signinfailure/", {"q": typed})
        assert found.context["cl"].result_count == 10, typed
    assert admin.get("/admin/core/signinfailure/", {"q": "192.0.2.1"}).context["cl"].result_count == 0


@pytest.mark.django_db
def test_an_administrator_can_find_and_lift_a_lock(alice: Any, django_user_model: Any) -> None:
    for n in range(10):
        _page_sign_in("alice", "wrong", address=f"192.0.2.{n + 1}")
    _page_sign_in("someone-else", "wrong")
    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("root", "root@example.org", PASSWORD))
    found = admin.get("/admin/core/signinfailure/", {"q": "Alice"})
    assert found.status_code == 200 and found.context["cl"].result_count == 10
    ids = [failure.pk for failure in found.context["cl"].result_list]
    admin.post("/admin/core/signinfailure/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
    assert _signed_in(_page_sign_in("alice", PASSWORD))
    assert SignInFailure.objects.count() == 1


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "192.0.2.1", "", "192.0.2.1"),
        (0, "192.0.2.1", "203.0.113.5", "192.0.2.1"),  # no proxy is trusted: the header is the client's own words
        (1, "10.0.0.2", "6.6.6.6, 203.0.113.5", "203.0.113.5"),  # one proxy: the address it saw, last in the list
        (2, "10.0.0.2", "6.6.6.6, 203.0.113.5, 10.0.0.1", "203.0.113.5"),
        (2, "10.0.0.2", "203.0.113.5", "10.0.0.2"),  # fewer entries than proxies: not through them, use the peer
        (0, "2001:db8:1:2:3:4:5:6", "", "2001:db8:1:2::/64"),  # IPv6: the /64 a subscriber holds
        (0, "::ffff:192.0.2.7", "", "192.0.2.7"),
        (1, "10.0.0.2", "not-an-address", "not-an-address"),
        (0, "", "", "unknown"),
    ],
)
def test_the_client_address(proxies: int, remote: str, forwarded: str, expected: str, settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = proxies
    meta = {"REMOTE_ADDR": remote, **({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {})}
    assert client_address(type("Request", (), {"META": meta})()) == expected


def test_a_proxy_that_is_not_configured_is_noted_once(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    monkeypatch.setattr("core.security._forwarded_for_noted", False)
    caplog.set_level(logging.WARNING, logger="core.security")
    request = type("Request", (), {"META": {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}})()
    assert client_address(request) == client_address(request) == "10.0.0.2"
    assert caplog.text.count("DJANGO_TRUSTED_PROXY_COUNT is 0") == 1


def test_drfs_rate_limits_identify_callers_as_the_sign_in_throttle_does(settings: Any) -> None:
    from booking.meeting_apis import FamilyThrottle
    from core.apis import TokenThrottle

    factory = RequestFactory()
    for throttle in (FamilyThrottle(), TokenThrottle()):
        settings.TRUSTED_PROXY_COUNT = 0
        ipv6 = factory.get("/", REMOTE_ADDR="2001:db8:1:2:3:4:5:6", HTTP_X_FORWARDED_FOR="203.0.113.5")
        assert throttle.get_ident(ipv6) == "2001:db8:1:2::/64" == client_address(ipv6)
        settings.TRUSTED_PROXY_COUNT = 1
        proxied = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 2001:db8:9:9::1")
        assert throttle.get_ident(proxied) == "2001:db8:9:9::/64"


@pytest.mark.django_db
def test_one_ipv6_subscriber_cannot_spread_its_calls_over_its_64() -> None:
    """The token endpoint's own rate limit (20 a minute): twenty addresses of one /64 share it. (These calls have no
    password, so the sign-in throttle never sees them.)"""
    client = APIClient()
    with time_machine.travel(NOW, tick=False):
        for n in range(20):
            assert (
                client.post("/api/auth/token/", {}, format="json", REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}").status_code
                == 400
            )
        refused = client.post("/api/auth/token/", {}, format="json", REMOTE_ADDR="2001:db8:1:2::ff")
        assert refused.status_code == 429 and "throttled" in refused.json()["message"]
        assert client.post("/api/auth/token/", {}, format="json", REMOTE_ADDR="2001:db8:1:3::1").status_code == 400


# --- Tokens kept out of logs and the audit trail ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/book/1.AbC-d_e:fG/", "/book/<token>/"),
        ("/book/1.AbC-d_e:fG/new-time/", "/book/<token>/new-time/"),
        ("/book/1.AbC-d_e:fG/calendar.ics", "/book/<token>/calendar.ics"),
        ("/respond/Zz9-tok/", "/respond/<token>/"),
        ("/respond/Zz9-tok/yes/", "/respond/<token>/yes/"),
        ("/m/Zz9-tok/", "/m/<token>/"),
        ("/calendar/feed-tok_1.ics", "/calendar/<token>.ics"),
        ("/feedback/fb-tok/", "/feedback/<token>/"),
        ("/api/offers/1.AbC-d_e:fG/accept/", "/api/offers/<token>/accept/"),
        ("/api/feedback/fb-tok/", "/api/feedback/<token>/"),
        ("/book/o/", "/book/<token>/"),  # a token that also occurs elsewhere in the path
        ("/api/cases/12/", "/api/cases/12/"),  # no token: unchanged
        ("/admin/booking/case/12/change/", "/admin/booking/case/12/change/"),
        ("/no-such-page/perhaps-a-token/", "/no-such-page/..."),
    ],
)
def test_paths_are_logged_without_their_tokens(path: str, logged: str) -> None:
    assert path_for_logs(RequestFactory().get(path)) == logged


@pytest.mark.django_db
def test_djangos_request_log_lines_are_free_of_tokens(caplog: Any) -> None:
    """PathTokenFilter, set on the `django.request` logger (its "Not Found: <path>" lines for every 4xx and 5xx)."""
    caplog.set_level(logging.WARNING, logger="django.request")
    Client().get("/book/1.secret-token:xyz/")  # an unknown link: 404, logged by Django
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [r.getMessage() for r in records] == ["Not Found: /book/<token>/"]
    assert "secret-token" not in caplog.text


@pytest.mark.django_db
def test_the_audit_trail_keeps_a_family_links_path_without_its_token() -> None:
    from booking.models import AuditEvent
    from tests.web.factories import offered_case

    with time_machine.travel(NOW, tick=False):
        t, case, _, token = offered_case(today=NOW.date(), now=NOW)
        assert Client().get(f"/book/{token}/").status_code == 200
        coordinator = Client()
        coordinator.force_login(t["coordinator"])
        trail = coordinator.get(f"/api/cases/{case.pk}/audit/").json()["results"]
    event = AuditEvent.objects.filter(action="view", actor_kind="family_link", case_id_ref=case.pk).get()
    assert (event.path, event.via) == ("/book/<token>/", "page")
    assert not AuditEvent.objects.filter(path__contains=token).exists()
    assert token not in str(trail) and "/book/<token>/" in str(trail)


# --- Idle sessions ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_staff_session_ends_after_30_idle_minutes_and_lasts_while_used(alice: Any) -> None:
    idle, active = Client(), Client()
    with time_machine.travel(NOW, tick=False):
        idle.force_login(alice)
        active.force_login(alice)
        assert idle.get("/staff/").status_code == 200
        assert active.get("/staff/").status_code == 200
    for minutes in (20, 40, 60, 80):
        with time_machine.travel(NOW + timedelta(minutes=minutes), tick=False):
            assert active.get("/staff/").status_code == 200, f"signed out after {minutes} minutes"
    with time_machine.travel(NOW + timedelta(minutes=31), tick=False):
        signed_out = idle.get("/staff/")
    assert signed_out.status_code == 302 and signed_out["Location"].startswith("/sign-in/")


# --- The shared cache (production) -----------------------------------------------------------------------------------


def test_drf_throttles_count_across_processes_in_redis_and_lapse_when_it_is_down() -> None:
    """Two cache instances, as two gunicorn workers would have, on one Redis: a throttle counted by one holds in the
    other. With Redis gone the cache reads as empty (and writes are dropped) instead of failing the request."""
    from rest_framework.throttling import SimpleRateThrottle

    from core.cache import FailOpenRedisCache
    from tests.servers.redis import run_redis

    class TwoPerMinute(SimpleRateThrottle):
        rate = "2/min"

        def get_cache_key(self, request: Any, view: Any) -> str:
            return "throttle-test"

    request = type("Request", (), {"META": {"REMOTE_ADDR": "192.0.2.1"}})()
    options = {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}
    with run_redis() as redis:
        workers = [FailOpenRedisCache(redis.url, options), FailOpenRedisCache(redis.url, options)]
        throttles = []
        for cache in workers:
            throttle = TwoPerMinute()
            throttle.cache = cache
            throttles.append(throttle)
        assert throttles[0].allow_request(request, None)
        assert throttles[1].allow_request(request, None)
        assert not throttles[0].allow_request(request, None)
        assert not throttles[1].allow_request(request, None)
        redis.stop()
        assert workers[0].get("anything", "default") == "default"
        workers[0].set("anything", 1)
        assert throttles[1].allow_request(request, None)  # the limit lapses; the request goes on


@pytest.mark.django_db
def test_audit_paths_recorded_before_redaction_lose_their_tokens() -> None:
    """The data migration booking 0005 rewrites old rows' paths as they are recorded now (the one change ever made
    to the append-only trail, through the migration's own model)."""
    import importlib

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    from booking.models import AuditEvent

    name = "0005_redact_tokens_in_audit_paths"
    migration = importlib.import_module(f"booking.migrations.{name}")
    state = MigrationLoader(connection).project_state(("booking", name))
    raw = {
        "/book/1.AbC-d_e:fG/": "/book/<token>/",
        "/respond/Zz9-tok/yes/": "/respond/<token>/yes/",
        "/calendar/feed-tok_1.ics": "/calendar/<token>.ics",
        "/api/offers/1.AbC-d_e:fG/accept/": "/api/offers/<token>/accept/",
        "/api/cases/12/": "/api/cases/12/",
        "": "",
    }
    for path in raw:
        AuditEvent.objects.create(
            at=NOW, actor_kind="system", actor_label="system", action="view", object_type="case", object_id=1, path=path
        )
    migration.redact(state.apps, None)
    assert sorted(AuditEvent.objects.values_list("path", flat=True)) == sorted(raw.values())
