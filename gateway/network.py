"""Whether a connection's peer address is one the configuration trusts (proxies, SSO front ends)."""

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
