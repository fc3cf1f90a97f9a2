"""User-entered server addresses: only http(s), and no private, loopback or link-local hosts unless
``CALDAV_ALLOW_PRIVATE_HOSTS`` is on (STYLE R30), so the service cannot be turned against its own network."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeHostError(Exception):
    pass


def server_url_check(url: str) -> None:
    """Raise UnsafeHostError with a message for the person who typed the address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeHostError("Enter the server's address starting with https://")
    if settings.CALDAV_ALLOW_PRIVATE_HOSTS:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):
        raise UnsafeHostError(f"The server name {parts.hostname} cannot be found.") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            raise UnsafeHostError("That address is on a private network; use the calendar's public address.")
