"""API tokens, checked as DRF checks them, for less work per request."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's `Authorization: Token …` check, the user read through the token's key in one query.

    DRF reads the token with `select_related("user")`, which Django compiles at more cost than the query itself takes:
    on the booking race benchmark (bench/bench_booking_race.py) the token check was a sixth of the workers' CPU. The
    answers are DRF's, word for word; `request.auth` is the token, built from what was read."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        try:
            user = get_user_model().objects.get(auth_token__key=key)
        except get_user_model().DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, Token(key=key, user=user)
