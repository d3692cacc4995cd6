"""Request header mutation: what the upstream may trust comes from the gateway alone.

Refused (400): a `Connection` header naming an end-to-end header (it would be a way to remove `Content-Length`,
`Content-Encoding`, `Authorization` or an identity header on the way); a `Host` that is not host[:port].
Dropped: hop-by-hop headers and every header the client names in `Connection`; any inbound `X-Auth-*` (the names are
compared with `_` read as `-`, since some servers fold the two); `X-Forwarded-*`/`Forwarded`/`X-Real-IP` unless the
peer is a trusted proxy; client-address claims (`X-Client-IP`, `True-Client-IP`, ...); method and URL override
headers; the SSO login header; the gateway's own cookies; the bearer `Authorization`; `Host` and `Expect`.
Set afterwards, so no inbound header can remove them: identity, request id and fresh forwarding headers.
The policy (what to drop) is built once at start-up; `upstream_headers` is the per-request part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from multidict import CIMultiDictProxy

from gateway.cookies import GATEWAY_COOKIES
from gateway.errors import BadRequestHeaders
from gateway.models import Principal

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    }
)
# Never forwarded, whoever sends them: framing is the upstream client's, and the rest would let a client steer how
# the upstream (or a framework in it) reads the method, the URL or the caller's address.
STRIPPED = frozenset(
    {
        "host",
        "expect",
        "content-length",
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
        "x-original-url",
        "x-rewrite-url",
        "x-original-uri",
        "x-override-url",
        "x-client-ip",
        "true-client-ip",
        "x-cluster-client-ip",
        "cf-connecting-ip",
        "fastly-client-ip",
        "x-originating-ip",
        "x-remote-ip",
        "x-remote-addr",
    }
)
_FORWARDING = frozenset({"forwarded", "x-real-ip"})
_SET_HERE = frozenset({"x-request-id"})  # always the gateway's own value
_NONE: frozenset[str] = frozenset()
# End-to-end headers a `Connection` header may not name (RFC 9110 §7.6.1 lets it name only hop-by-hop fields).
_NOT_HOP_BY_HOP = frozenset(
    {
        "content-length",
        "transfer-encoding",
        "content-encoding",
        "content-type",
        "content-range",
        "host",
        "authorization",
        "cookie",
        "expect",
        "forwarded",
        "x-real-ip",
        "x-request-id",
    }
)
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}"
    r"[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::(?P<port>[0-9]{1,5}))?"
)


def _norm(name: str) -> str:
    return name.lower().replace("_", "-")


@dataclass(frozen=True, slots=True)
class HeaderPolicy:
    """What the proxy removes besides the fixed sets: the SSO login header, the gateway's cookies."""

    drop: frozenset[str]  # normalized names
    cookies: frozenset[str] = GATEWAY_COOKIES

    @classmethod
    def build(cls, login_header: str | None) -> HeaderPolicy:
        extra = {_norm(login_header)} if login_header else set()
        return cls(frozenset(STRIPPED | extra))


_GOOD_HOSTS: set[str] = set()  # Host values seen valid: a busy listener sees a handful, checked once each


def valid_host(host: str) -> bool:
    """RFC 9110 §7.2 host[:port], read strictly: a DNS name or an IP literal, and a port 1-65535."""
    if host in _GOOD_HOSTS:
        return True
    if _valid_host(host):
        if len(_GOOD_HOSTS) >= 1024:
            _GOOD_HOSTS.clear()
        _GOOD_HOSTS.add(host)
        return True
    return False


def _valid_host(host: str) -> bool:
    m = _HOST.fullmatch(host)
    if m is None or len(host) > 260:
        return False
    port = m.group("port")
    return port is None or 1 <= int(port) <= 65535


def check_inbound(inbound: CIMultiDictProxy[str]) -> frozenset[str]:
    """Refuse what could make the upstream read a different request than the one authorized. Returns the
    (normalized) names the client's `Connection` header lists, which `upstream_headers` drops."""
    named: frozenset[str] = _NONE
    if "Connection" in inbound:
        names: set[str] = set()
        for value in inbound.getall("Connection"):
            for token in value.split(","):
                name = _norm(token.strip())
                if name in _NOT_HOP_BY_HOP or name.startswith(("x-auth-", "x-forwarded-")):
                    raise BadRequestHeaders(f"Connection must not name {token.strip()}", reason="connection_header")
                names.add(name)
        named = frozenset(names)
    hosts = inbound.getall("Host", ())
    if len(hosts) > 1 or (hosts and not valid_host(hosts[0])):
        raise BadRequestHeaders("the Host header is not a valid host[:port]", reason="bad_host")
    return named


def _without_gateway_cookies(value: str, names: frozenset[str]) -> str:
    kept = [part for part in value.split(";") if part.split("=", 1)[0].strip() not in names]
    return ";".join(kept).strip()


def upstream_headers(
    inbound: CIMultiDictProxy[str],
    *,
    named_in_connection: frozenset[str],
    policy: HeaderPolicy,
    principal: Principal | None,
    drop_authorization: bool,
    request_id: str,
    peer: str | None,
    scheme: str,
    host: str,
    trusted_peer: bool,
    extra: dict[str, str] | None = None,
) -> list[tuple[str, str]]:
    """The header fields sent to the upstream, in order: the inbound ones that survive, then the ones set here.
    Pairs rather than a multidict: the upstream client only writes them out, once. `named_in_connection`: what
    `check_inbound` returned for these headers."""
    drop = policy.drop
    out: list[tuple[str, str]] = []
    prior: str | None = None  # the first X-Forwarded-For of a trusted proxy
    proto = forwarded_host = False
    for name, value in inbound.items():
        n = _norm(name)
        if n in HOP_BY_HOP or n in drop or n in named_in_connection or n in _SET_HERE:
            continue
        if n.startswith("x-auth-"):
            continue
        if n.startswith("x-forwarded-") or n in _FORWARDING:
            if not trusted_peer:
                continue
            if n == "x-forwarded-for":
                if prior is None:
                    prior = value
                continue  # replaced below, with the peer appended
            proto = proto or n == "x-forwarded-proto"
            forwarded_host = forwarded_host or n == "x-forwarded-host"
        if n == "authorization" and drop_authorization:
            continue
        if n == "cookie":
            value = _without_gateway_cookies(value, policy.cookies)
            if not value:
                continue
        out.append((name, value))
    if principal is not None:
        out.append(("X-Auth-User-Id", principal.user_id))
        out.append(("X-Auth-Client-Id", principal.client_id))
        out.append(("X-Auth-Scopes", " ".join(sorted(principal.scopes))))
    out.append(("X-Request-Id", request_id))
    out.append(("X-Forwarded-For", f"{prior}, {peer}" if prior and peer else (peer or prior or "unknown")))
    if not proto:
        out.append(("X-Forwarded-Proto", scheme))
    if not forwarded_host:
        out.append(("X-Forwarded-Host", host))
    if extra:  # set last, replacing any field of the same name
        names = {k.lower() for k in extra}
        out = [(k, v) for k, v in out if k.lower() not in names]
        out.extend(extra.items())
    return out


def response_headers(fields: list[tuple[str, str]], connection: frozenset[str]) -> list[tuple[str, str]]:
    """The upstream's header fields that go on to the client: not hop-by-hop, not named in its `Connection`
    (`connection`: those tokens, lower-cased), and not Content-Length (the client response is framed anew)."""
    named_in_connection = {_norm(t) for t in connection} if connection else connection
    return [
        (name, value)
        for name, value in fields
        if (n := _norm(name)) not in HOP_BY_HOP and n not in named_in_connection and n != "content-length"
    ]
