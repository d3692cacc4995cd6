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


def client_address(peer: str | None, forwarded_for: Collection[str], networks: Collection[IPNetwork]) -> str:
    """The address of the client a request comes from, as the configured proxies report it.

    When the peer is a trusted proxy, `X-Forwarded-For` is read from the right (the hop the proxy appended) and the
    first address that is not itself a trusted proxy is the client; a value that does not parse ends the walk (it
    was written by someone we do not trust). Otherwise the peer itself. Never raises; "-" when nothing is known.
    """
    client = peer or "-"
    if not forwarded_for or not peer_in(peer, networks):
        return client
    hops = [h.strip() for value in forwarded_for for h in value.split(",")]
    for hop in reversed(hops):
        try:
            addr = ipaddress.ip_address(hop)
        except ValueError:
            break
        client = str(addr)
        if not any(addr in net for net in networks):
            break
    return client
