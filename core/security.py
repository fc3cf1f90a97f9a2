"""Defences every request shares: the content security policy and the sign-in throttle.

Content security policy: every response carries `settings.CONTENT_SECURITY_POLICY` (scripts and styles from this
service only, no inline code, no framing). Our templates have no inline script, style element or style attribute; the
interactive API docs are served without any either (`ApiDocsView`). Two narrow exceptions, both explained below:
DRF's browsable API may use inline styles (never scripts), and Django's own debug pages go without a policy when
DEBUG is on.

Sign-in throttle: every password check goes through `ThrottledModelBackend` (the sign-in page, the API token endpoint,
the admin's sign-in) or, for the admin's password change (which checks the old password itself),
`SignInThrottleMiddleware`. At most SIGN_IN_FAILURE_LIMIT_PER_ACCOUNT failures per account and
SIGN_IN_FAILURE_LIMIT_PER_ADDRESS per client address in SIGN_IN_FAILURE_WINDOW_MINUTES. Failures are rows in the
database (`SignInFailure`), so the limit holds across every web process and machine. Beyond it a check is refused with
`SignInThrottled` (429 with Retry-After), even when the password is right, until enough failures have left the window.

Client address: `client_address`, the one rule for the sign-in throttle and DRF's rate limits (`AddressRateThrottle`).
Access tokens in paths (the family's and attendees' links, calendar feeds) are kept out of logs and the audit trail by
`path_for_logs`.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.crypto import salted_hmac
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.exceptions import Throttled
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.throttling import AnonRateThrottle

from core.models import SignInFailure

logger = logging.getLogger(__name__)

# --- Content security policy ---------------------------------------------------------------------------------------

CSP_HEADER = "Content-Security-Policy"
# Django's technical 404 and 500 pages (DEBUG only) are written with inline script and style; they carry this marker.
_DEBUG_PAGE_MARKER = b'<meta name="robots" content="NONE,NOARCHIVE">'


def csp_header_value(directives: dict[str, list[str]]) -> str:
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


def _policy_for(response: HttpResponse) -> dict[str, list[str]] | None:
    directives: dict[str, list[str]] = settings.CONTENT_SECURITY_POLICY
    if isinstance(getattr(response, "accepted_renderer", None), BrowsableAPIRenderer):
        # DRF's browsable API (/api/... opened in a browser) is DRF's own template, which sets a few style attributes
        # and a <style> for code highlighting. Styles only: its scripts are files, and script-src stays strict.
        return {**directives, "style-src": [*directives.get("style-src", []), "'unsafe-inline'"]}
    if settings.DEBUG and not response.streaming and _DEBUG_PAGE_MARKER in response.content[:1000]:
        return None  # a developer's traceback page must stay readable; never in production (DEBUG is off there)
    return directives


class ContentSecurityPolicyMiddleware:
    """Sets the policy on every response that has none (so a view may set its own). First in MIDDLEWARE, so that
    responses made by other middleware (redirects, CSRF failures, errors) carry it too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if CSP_HEADER not in response.headers:
            directives = _policy_for(response)
            if directives is not None:
                response.headers[CSP_HEADER] = csp_header_value(directives)
        return response


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI under the strict policy, with no relaxation for /api/docs/.

    drf-spectacular's default view writes its start-up script inline, and its page template has an inline <style>.
    Of the three ways out (a nonce on this view, 'unsafe-inline' for this path, or no inline code at all) we take the
    last: the split view serves the start-up script from this same address (`?script`), as a script file of this
    service, and our template (web/api_docs.html) links the few page styles from a static file. No exception to the
    policy is then needed anywhere, and nothing inline can run on the page that holds an API token.
    """

    template_name = "web/api_docs.html"

    @extend_schema(exclude=True)
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().get(request, *args, **kwargs)
        if request.GET.get("script") is not None:
            # The start-up script holds a CSRF token: no other site may load it with <script src>.
            response["Cross-Origin-Resource-Policy"] = "same-origin"
        return response


# --- Client address --------------------------------------------------------------------------------------------------


_forwarded_for_noted = False


def client_address(request: HttpRequest | Any) -> str:
    """The caller's address: REMOTE_ADDR, unless TRUSTED_PROXY_COUNT proxies are in front of the service, in which
    case the address the outermost of them saw (the Nth entry from the right of X-Forwarded-For; each proxy appends
    the address it was called from). Entries further left are written by the client and never believed.

    IPv6 addresses are taken as their /64 network: one subscriber usually holds a whole /64.
    """
    global _forwarded_for_noted
    meta = request.META
    candidate = meta.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies == 0 and not _forwarded_for_noted and "HTTP_X_FORWARDED_FOR" in meta:
        _forwarded_for_noted = True  # once per process: a client may send the header too
        logger.warning(
            "A request came with X-Forwarded-For while DJANGO_TRUSTED_PROXY_COUNT is 0: behind a proxy, every client "
            "then shares the proxy's address (and its sign-in and rate limits). See README, Security."
        )
    if proxies > 0:
        hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            candidate = hops[-proxies]
    return address_group(candidate)[:64] or "unknown"


def address_group(text: str) -> str:
    """An address as the throttles count it: IPv4 as it is, IPv6 as its /64 network (an IPv4-mapped one as the IPv4
    address). A /64 written out ("2001:db8:1:2::/64", as the logs show it) is normalised too; anything else is returned
    unchanged. Used by `client_address` and by the admin's search of sign-in failures."""
    text = text.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return text
        return str(network) if isinstance(network, ipaddress.IPv6Network) and network.prefixlen == 64 else text
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


class AddressRateThrottle(AnonRateThrottle):
    """DRF's rate limit for anonymous callers, counted per `client_address`: trusted proxies only, and IPv6 by /64,
    as the sign-in throttle counts (DRF's own get_ident takes each IPv6 address apart, so one subscriber could spread
    its calls over its /64)."""

    def get_ident(self, request: Any) -> str:
        return client_address(request)


# --- Tokens in paths -------------------------------------------------------------------------------------------------

_TOKEN_KWARG = re.compile(r"token", re.I)


def path_for_logs(request: HttpRequest | Any) -> str:
    """The request's path with the access tokens in it (any URL argument named like "token": /book/<token>/,
    /respond/<token>/, /m/<token>/, /calendar/<token>.ics, /api/offers/<token>/ ...) replaced by "<token>". A token in a
    log line or an audit row would let whoever reads it act as the family, answer for an attendee, or read a
    mediator's calendar. A path that matches no route keeps only its first segment."""
    path: str = request.path
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            first = path.strip("/").split("/", 1)[0]
            return f"/{first}/..." if first and first != path.strip("/") else path
    for name, value in match.kwargs.items():
        if _TOKEN_KWARG.search(name) and isinstance(value, str) and value:
            path = re.sub(rf"(?<=/){re.escape(value)}(?=[/.]|$)", "<token>", path)
    return path


class PathTokenFilter(logging.Filter):
    """For Django's `django.request` logger, whose 4xx warnings and 5xx errors name the raw path ("Gone: /book/…/"):
    the same line with the path as `path_for_logs` gives it. Added in CoreConfig.ready() (LOGGING's dictConfig runs
    before the app registry is ready, and this module imports a model)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None and isinstance(record.args, tuple) and hasattr(request, "path"):
            raw = {request.path, request.path.encode("unicode_escape").decode("ascii")}
            record.args = tuple(path_for_logs(request) if arg in raw else arg for arg in record.args)
        return True


# --- Sign-in throttle ------------------------------------------------------------------------------------------------


class SignInThrottled(Throttled):
    """Too many failed sign-ins for this account or from this address. A DRF Throttled, so the API answers 429 in
    the one error shape with a Retry-After header; the sign-in page renders it; any other page gets a 429 page from
    SignInThrottleMiddleware."""

    def __init__(self, wait: int) -> None:
        minutes = max(1, math.ceil(wait / 60))
        super().__init__(
            detail=(
                "Too many failed sign-in attempts for this account or from this network. "
                f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
            )
        )
        self.wait = wait


def _digest(kind: str, value: str) -> str:
    return salted_hmac(f"core.security.sign-in.{kind}", value, algorithm="sha256").hexdigest()


def account_key(username: str) -> str:
    """What SignInFailure stores for a username: a keyed digest of it, case-folded."""
    return _digest("account", username.casefold())


def address_key(address: str) -> str:
    """What SignInFailure stores for a client address (as client_address gives it)."""
    return _digest("address", address)


def _window() -> timedelta:
    return timedelta(minutes=settings.SIGN_IN_FAILURE_WINDOW_MINUTES)


def _wait_seconds(*, field: str, key: str, limit: int, now: datetime, exclude_pk: int | None = None) -> int:
    """Seconds until fewer than `limit` failures for this key are left in the window (0: none to wait)."""
    failures = SignInFailure.objects.filter(**{field: key, "at__gt": now - _window()})
    if exclude_pk is not None:
        failures = failures.exclude(pk=exclude_pk)
    recent = list(failures.order_by("-at").values_list("at", flat=True)[:limit])
    if len(recent) < limit:
        return 0
    # Another check may run once the limit-th most recent failure has left the window.
    return max(1, math.ceil((recent[limit - 1] + _window() - now).total_seconds()))


def _wait(*, account: str, place: str, now: datetime, exclude_pk: int | None = None) -> int:
    wait = _wait_seconds(
        field="account", key=account, limit=settings.SIGN_IN_FAILURE_LIMIT_PER_ACCOUNT, now=now, exclude_pk=exclude_pk
    )
    if place:
        limit = settings.SIGN_IN_FAILURE_LIMIT_PER_ADDRESS
        wait = max(wait, _wait_seconds(field="address", key=place, limit=limit, now=now, exclude_pk=exclude_pk))
    return wait


def _refuse(*, username: str, address: str | None, wait: int) -> SignInThrottled:
    who, where = _who(username), address or "no address"
    logger.warning("Sign-in refused for %s from %s: too many failures; next try in %d s", who, where, wait)
    return SignInThrottled(wait)


# Rows that have left the window are deleted at most once a minute per process, by an attempt that is let through:
# not on every attempt (a burst of guesses would each run the same DELETE), and never by a refused one.
PRUNE_INTERVAL = timedelta(minutes=1)
_last_pruned: datetime | None = None


def _prune(now: datetime) -> None:
    global _last_pruned
    if _last_pruned is not None and _last_pruned <= now < _last_pruned + PRUNE_INTERVAL:
        return  # (a clock that went back prunes at once)
    _last_pruned = now
    SignInFailure.objects.filter(at__lte=now - _window()).delete()


def sign_in_attempt_begin(*, username: str, address: str | None) -> int:
    """Before a password check: refuse it, writing nothing, if the account or the address already has its limit of
    failures in the window; otherwise record it as a failure (so checks running at the same moment count each other)
    and count again, without it, for checks recorded between the count and the record.

    Returns the id of the record, for `sign_in_attempt_end`. Raises SignInThrottled (and leaves no record: a refused
    attempt tests no password, so it does not push the wait further back).
    """
    now = timezone.now()
    account = account_key(username)
    place = address_key(address) if address else ""
    wait = _wait(account=account, place=place, now=now)
    if wait:
        raise _refuse(username=username, address=address, wait=wait)
    _prune(now)
    attempt = SignInFailure.objects.create(account=account, address=place, at=now)
    wait = _wait(account=account, place=place, now=now, exclude_pk=attempt.pk)
    if wait:  # others got in first, in parallel
        attempt.delete()
        raise _refuse(username=username, address=address, wait=wait)
    return attempt.pk


def sign_in_attempt_end(attempt_id: int, *, username: str, address: str | None, succeeded: bool) -> None:
    """After the password check. A failure keeps its record (and is logged: who, from where, never what was typed).
    A success forgives this account's failures from this address only: another account's failures from the same
    address, and this account's failures from elsewhere, still count."""
    if not succeeded:
        logger.warning("Sign-in failed for %s from %s", _who(username), address or "no address")
        return
    forgiven = SignInFailure.objects.filter(account=account_key(username))
    forgiven = forgiven.filter(address=address_key(address) if address else "")
    SignInFailure.objects.filter(pk=attempt_id).delete()
    forgiven.delete()


def _who(username: str) -> str:
    """An existing account by its username; anything else as unknown (it may be a password typed in the wrong box)."""
    users = get_user_model()._default_manager
    pk = users.filter(**{get_user_model().USERNAME_FIELD: username}).values_list("pk", flat=True).first()
    return f"user {username!r} (id {pk})" if pk is not None else "an unknown username"


class ThrottledModelBackend(ModelBackend):
    """Django's username-and-password backend, with every check counted by the sign-in throttle.

    A check made without a request (a management command, a test's client.login) is counted for the account only.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        address = client_address(request) if request is not None else None
        attempt = sign_in_attempt_begin(username=str(username), address=address)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        sign_in_attempt_end(attempt, username=str(username), address=address, succeeded=user is not None)
        return user


def password_check_counted(*, user: Any, password: str, address: str | None) -> bool:
    """A check of a signed-in user's own password, counted as a sign-in would be (for the admin's password change)."""
    username = user.get_username()
    attempt = sign_in_attempt_begin(username=username, address=address)
    succeeded = user.check_password(password)
    sign_in_attempt_end(attempt, username=username, address=address, succeeded=succeeded)
    return bool(succeeded)


class SignInThrottleMiddleware:
    """The password checks no authentication backend sees, and refusals no page handles itself.

    - The admin's password change (/admin/password_change/) checks the old password with user.check_password, not
      through authenticate(): without this, a stolen staff session could try passwords there without limit. Its POST
      is counted here, before the view runs, as a sign-in of that account from that address; past the limit it is
      refused with 429 and the view (and its own check) never runs. The view checks the password once more itself.
    - A refused sign-in on a page that does not handle it (the admin's sign-in): a 429 page, not a 500.

    After CsrfViewMiddleware and AuthenticationMiddleware in MIDDLEWARE, so a forged POST is refused before it counts.
    """

    PASSWORD_CHANGE_VIEWS = frozenset({"admin:password_change"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        match = request.resolver_match
        if request.method != "POST" or match is None or match.view_name not in self.PASSWORD_CHANGE_VIEWS:
            return None
        user = request.user
        old_password = request.POST.get("old_password", "")
        if not (user.is_active and user.is_staff) or not old_password:
            return None  # the admin sends them to sign in, or the form asks for the password: nothing is checked
        try:
            password_check_counted(user=user, password=old_password, address=client_address(request))
        except SignInThrottled as refused:
            return self._refused(request, refused)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, SignInThrottled):
            return None
        return self._refused(request, exception)

    @staticmethod
    def _refused(request: HttpRequest, refused: SignInThrottled) -> HttpResponse:
        response = HttpResponse(render_to_string("429.html", {"message": refused.detail}, request), status=429)
        response["Retry-After"] = str(refused.wait)
        return response
