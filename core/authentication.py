"""API tokens, checked as DRF checks them, for less work per request."""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's `Authorization: Token …` check, the user read through the token's key in one query.

    DRF reads the token with `select_related("user")`, which Django compiles at more cost than the query itself takes:
    on the booking race benchmark (bench/bench_booking_race.py) the token check was a sixth of the workers' CPU. Every
    API request makes this read, so it is written as SQL (`_user_by_token`) and the user built from the row by the ORM
    (`raw`), at half the CPU of the same join compiled by the ORM. The answers are DRF's, word for word;
    `request.auth` is the token, built from what was read."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        if "\x00" in key:  # no key has one, and PostgreSQL cannot compare it
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        found = list(get_user_model().objects.raw(_user_by_token(), [key]))
        if not found:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = found[0]
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, Token(key=key, user=user)


@functools.cache
def _user_by_token() -> str:
    """The token's user, found by the token's key (a parameter)."""
    user, quote = get_user_model()._meta, connection.ops.quote_name
    return (
        f"SELECT u.* FROM {quote(user.db_table)} u JOIN {quote(Token._meta.db_table)} t"
        f" ON t.{quote('user_id')} = u.{quote(user.pk.column)} WHERE t.{quote('key')} = %s"
    )
