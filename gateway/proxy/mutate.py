"""Request header mutation: what the upstream may trust comes from the gateway alone.

Dropped: hop-by-hop headers and every header the client names in `Connection`; any inbound `X-Auth-*` (the names are
compared with `_` read as `-`, since some servers fold the two); `X-Forwarded-*`/`Forwarded`/`X-Real-IP` unless the
peer is a trusted proxy; method-override headers; the bearer `Authorization`; `Host` and `Expect`.
Set afterwards, so no inbound header can remove them: identity, request id and fresh forwarding headers.
"""

from __future__ import annotations

from multidict import CIMultiDict, CIMultiDictProxy

from gateway.models import Principal

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
     "transfer-encoding", "upgrade", "proxy-connection"}
)
_ALWAYS_DROP = frozenset(
    {"host", "expect", "x-http-method-override", "x-http-method", "x-method-override", "content-length"}
)
_FORWARDING = frozenset({"forwarded", "x-real-ip"})


def _norm(name: str) -> str:
    return name.lower().replace("_", "-")


def upstream_headers(
    inbound: CIMultiDictProxy[str],
    *,
    principal: Principal | None,
    drop_authorization: bool,
    request_id: str,
    peer: str | None,
    scheme: str,
    host: str,
    trusted_peer: bool,
    content_length: int | None,
    extra: dict[str, str] | None = None,
) -> CIMultiDict[str]:
    named_in_connection = {
        _norm(token.strip()) for value in inbound.getall("Connection", ()) for token in value.split(",")
    }
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in inbound.items():
        n = _norm(name)
        if n in HOP_BY_HOP or n in _ALWAYS_DROP or n in named_in_connection:
            continue
        if n.startswith("x-auth-"):
            continue
        if (n.startswith("x-forwarded-") or n in _FORWARDING) and not trusted_peer:
            continue
        if n == "authorization" and drop_authorization:
            continue
        out.add(name, value)
    if content_length is not None:
        out["Content-Length"] = str(content_length)
    if principal is not None:
        out["X-Auth-User-Id"] = principal.user_id
        out["X-Auth-Client-Id"] = principal.client_id
        out["X-Auth-Scopes"] = " ".join(sorted(principal.scopes))
    out["X-Request-Id"] = request_id
    prior = out.get("X-Forwarded-For", "") if trusted_peer else ""
    out["X-Forwarded-For"] = f"{prior}, {peer}" if prior and peer else (peer or prior or "unknown")
    if not trusted_peer or "X-Forwarded-Proto" not in out:
        out["X-Forwarded-Proto"] = scheme
    if not trusted_peer or "X-Forwarded-Host" not in out:
        out["X-Forwarded-Host"] = host
    if extra:
        out.update(extra)
    return out


def response_headers(upstream: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    named_in_connection = {
        _norm(token.strip()) for value in upstream.getall("Connection", ()) for token in value.split(",")
    }
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in upstream.items():
        n = _norm(name)
        if n in HOP_BY_HOP or n in named_in_connection or n == "content-length":
            continue
        out.add(name, value)
    return out
