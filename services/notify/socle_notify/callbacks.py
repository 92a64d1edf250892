"""What a webhook subscription may name: a callback URL notify may call (no internal
address unless allowed), and a Standard Webhooks signing secret."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import secrets
import socket
from urllib.parse import urlsplit

from socle_notify.errors import InvalidCallback, InvalidSecret
from socle_notify.settings import NotifySettings


def _blocked(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return bool(
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


async def resolve(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def check_callback_url(url: str, settings: NotifySettings) -> None:
    """Refuse URLs that would turn notify against internal addresses (unless allowed)."""
    parts = urlsplit(url)
    allowed = ("http", "https") if settings.webhook_allow_http else ("https",)
    if parts.scheme not in allowed:
        raise InvalidCallback(
            f"callback_url must use {' or '.join(allowed)}, not {parts.scheme or 'nothing'}."
        )
    if not parts.hostname:
        raise InvalidCallback("callback_url has no host.")
    if parts.username or parts.password:
        raise InvalidCallback("callback_url must not carry credentials; use the secret.")
    if settings.webhook_allow_private:
        return
    host = parts.hostname
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise InvalidCallback(f"callback_url host {host} is internal; use a public address.")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a) for a in await resolve(host)]
        except OSError:
            raise InvalidCallback(f"callback_url host {host} does not resolve.") from None
    for address in addresses:
        if _blocked(address):
            raise InvalidCallback(
                f"callback_url host {host} is a private, loopback or reserved address "
                f"({address}); notify only calls public addresses."
            )


def check_secret(secret: str) -> str:
    try:
        raw = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except ValueError:
        raise InvalidSecret("secret must be whsec_ followed by base64.") from None
    if not secret.startswith("whsec_") or not 24 <= len(raw) <= 64:
        raise InvalidSecret("secret must be whsec_ + base64 of 24 to 64 random bytes.")
    return secret


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
