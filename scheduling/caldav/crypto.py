"""App passwords at rest: Fernet (AES-128-CBC with HMAC-SHA256) with keys from settings.

``CALDAV_ENCRYPTION_KEY`` holds one key, or several separated by commas (the first encrypts, every one decrypts), so a
key can be rotated without losing stored passwords. Left empty, a key is derived from ``SECRET_KEY``: enough for the
embedded default, never for production (production.py insists on the variable).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadableError(Exception):
    """The stored password was encrypted with a key that is no longer configured."""


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in settings.CALDAV_ENCRYPTION_KEY.split(",") if k.strip()]
    if not keys:
        digest = hashlib.sha256(b"caldav-app-password:" + settings.SECRET_KEY.encode("utf-8")).digest()
        keys = [base64.urlsafe_b64encode(digest).decode("ascii")]
    return MultiFernet([Fernet(key) for key in keys])


def secret_encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode("utf-8")).decode("ascii")


def secret_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise SecretUnreadableError("the stored app password cannot be decrypted with the configured keys") from None
