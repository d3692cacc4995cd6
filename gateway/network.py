"""Addresses: whether a peer is one the configuration trusts (proxies, SSO front ends); reaching a local listener."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection

from gateway.settings import IPNetwork


def peer_in(peer: str | None, networks: Collection[IPNetwork]) -> bool:
    if not peer or not networks:  # nothing is trusted (the default): no need to parse the address (~10 us)
        return False
    try:
        addr = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(addr in net for net in networks)


def local_address(host: str) -> str:
    """An address to reach a listener bound to `host` from this machine."""
    if host in ("0.0.0.0", ""):  # noqa: S104 - recognising the wildcard, not binding to it
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
