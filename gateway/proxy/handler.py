"""The catch-all handler of the public listener: decide, then forward. Built once at start-up."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import hdrs, web

from gateway.keys import DECISION, REASON, REQUEST_ID, ROUTE_ID, SERVICES
from gateway.network import peer_in
from gateway.proxy.assertion import AssertionSigner, jwks_handler
from gateway.proxy.forward import forward
from gateway.proxy.mutate import HeaderPolicy, check_inbound, upstream_headers
from gateway.proxy.pipeline import Decider
from gateway.proxy.routes import RouteTable
from gateway.proxy.upstream import UpstreamPool

if TYPE_CHECKING:  # the proxy depends on services only through the app key, at run time
    from gateway.services import Services

DECIDER = web.AppKey("decider", Decider)
PROXY_ROUTE = "proxy"
_LAST_USED_INTERVAL = 60.0


class LastUsed:
    """Record an authorization's last use at most once a minute per process, off the request path."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._seen: dict[tuple[str, str], float] = {}

    def note(self, user_id: str, client_id: str, now: float) -> None:
        key = (user_id, client_id)
        if now - self._seen.get(key, 0.0) < _LAST_USED_INTERVAL:
            return
        if len(self._seen) > 100_000:
            self._seen.clear()
        self._seen[key] = now
        self._services.spawn(self._services.store.touch_last_used(user_id, client_id, now), "last-used")


_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


async def _no_early_continue(request: web.Request) -> None:
    """aiohttp would answer `Expect: 100-continue` before the handler runs; the proxy answers it only once the
    request is authorized (a denied request gets its 401/403 instead, and its body is never asked for)."""
    return None


def setup_proxy(app: web.Application) -> None:
    services = app[SERVICES]
    settings = services.settings
    decider = Decider(RouteTable(list(settings.routes)), services.validator, basic_auth=settings.basic_auth)
    decider.ready = lambda: services.scopes_ready
    app[DECIDER] = decider
    last_used = LastUsed(services)
    signer = AssertionSigner(settings.assertion, settings.issuer) if settings.assertion.enabled else None
    if signer is not None:
        app.router.add_get("/.well-known/jwks.json", jwks_handler(signer))
    policy = HeaderPolicy.build(settings.login.header)  # stripped in every login mode
    trusted_proxies, public_host, max_body = settings.trusted_proxies, settings.public_host, settings.max_body
    pools: list[UpstreamPool] = []  # the one pool, opened with the app

    # Everything the handler needs is bound here, once: the hot path looks nothing up per request.
    async def proxy(request: web.Request) -> web.StreamResponse:
        inbound = request.headers
        named_in_connection = check_inbound(inbound)
        decision = await decider.decide(request.method, request.raw_path, inbound.getall(hdrs.AUTHORIZATION, []))
        route = decision.route
        request[ROUTE_ID] = route.id
        request[REASON] = decision.reason
        request[DECISION] = "allow"
        principal = decision.principal
        request_id = request[REQUEST_ID]
        extra = None
        if principal is not None:
            last_used.note(principal.user_id, principal.client_id, time.time())
            if signer is not None:
                extra = {signer.header: signer.sign(principal, request_id)}
        peer = request.remote
        headers = upstream_headers(
            inbound,
            named_in_connection=named_in_connection,
            policy=policy,
            principal=principal,
            drop_authorization=decision.strip_authorization,
            request_id=request_id,
            peer=peer,
            scheme=request.scheme,
            host=inbound.get(hdrs.HOST) or public_host,
            trusted_peer=peer_in(peer, trusted_proxies),
            extra=extra,
        )
        if request.body_exists and inbound.get(hdrs.EXPECT, "").lower() == "100-continue":
            await request.writer.write(_CONTINUE)
        limit = route.max_body if route.max_body is not None else max_body
        return await forward(request, pools[0], decision.target.forward, headers, limit)

    async def upstream_pool(app: web.Application) -> AsyncIterator[None]:
        pool = UpstreamPool(settings.upstream, settings.connect_timeout, settings.read_timeout)
        pools.append(pool)
        yield
        pools.remove(pool)
        pool.close()

    app.cleanup_ctx.append(upstream_pool)
    # (?s): even a decoded newline reaches the canonicalizer
    app.router.add_route("*", "/{tail:(?s:.*)}", proxy, name=PROXY_ROUTE, expect_handler=_no_early_continue)
