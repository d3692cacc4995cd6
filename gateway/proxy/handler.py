"""The catch-all handler of the public listener: decide, then forward. Built once at start-up."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator

from aiohttp import hdrs, web

from gateway.keys import DECISION, REASON, REQUEST_ID, ROUTE_ID, SERVICES
from gateway.network import peer_in
from gateway.proxy.assertion import AssertionSigner, jwks_handler
from gateway.proxy.forward import forward, new_session
from gateway.proxy.mutate import upstream_headers
from gateway.proxy.pipeline import Decider
from gateway.proxy.routes import RouteTable
from gateway.proxy.upstream import UpstreamPool
from gateway.services import Services

DECIDER = web.AppKey("decider", Decider)
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


LAST_USED = web.AppKey("last_used", LastUsed)
SIGNER = web.AppKey("assertion_signer", AssertionSigner)
UPSTREAM_POOL: web.AppKey[UpstreamPool | None] = web.AppKey("upstream_pool")


def lean_pool(upstream: str, connect_timeout: float, read_timeout: float) -> UpstreamPool | None:
    """The lean client for bodyless requests to a plain-http upstream; None (aiohttp client for everything) for
    https upstreams or with SCOPEGATE_LEAN_UPSTREAM=0 (an escape hatch and an A/B switch for the benchmark)."""
    if os.environ.get("SCOPEGATE_LEAN_UPSTREAM", "1") == "0" or not upstream.startswith("http://"):
        return None
    return UpstreamPool(upstream, connect_timeout, read_timeout)


async def proxy(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    settings = services.settings
    decision = await request.app[DECIDER].decide(
        request.method, request.raw_path, request.headers.getall(hdrs.AUTHORIZATION, [])
    )
    route = decision.route
    request[ROUTE_ID] = route.id
    request[REASON] = decision.reason
    request[DECISION] = "allow"
    principal = decision.principal
    if principal is not None:
        request.app[LAST_USED].note(principal.user_id, principal.client_id, time.time())
    peer = request.remote
    trusted = peer_in(peer, settings.trusted_proxies)
    signer = request.app.get(SIGNER)
    extra = ({signer.header: signer.sign(principal, request[REQUEST_ID])}
             if signer is not None and principal is not None else None)
    headers = upstream_headers(
        request.headers,
        principal=principal,
        drop_authorization=decision.strip_authorization,
        request_id=request[REQUEST_ID],
        peer=peer,
        scheme=request.scheme,
        host=request.host,
        trusted_peer=trusted,
        content_length=request.content_length,
        extra=extra,
    )
    assert services.http is not None
    limit = route.max_body if route.max_body is not None else settings.max_body
    return await forward(request, services.http, settings.upstream, decision.target.forward, headers, limit,
                         request.app[UPSTREAM_POOL])


def setup_proxy(app: web.Application) -> None:
    services = app[SERVICES]
    settings = services.settings
    decider = Decider(RouteTable(list(settings.routes)), services.validator, basic_auth=settings.basic_auth)
    decider.ready = lambda: services.scopes_ready
    app[DECIDER] = decider
    app[LAST_USED] = LastUsed(services)
    if settings.assertion.enabled:
        signer = AssertionSigner(settings.assertion, settings.issuer)
        app[SIGNER] = signer
        app.router.add_get("/.well-known/jwks.json", jwks_handler(signer))

    async def client_session(app: web.Application) -> AsyncIterator[None]:
        services.http = new_session(settings.connect_timeout, settings.read_timeout)
        pool = lean_pool(settings.upstream, settings.connect_timeout, settings.read_timeout)
        app[UPSTREAM_POOL] = pool
        yield
        if pool is not None:
            pool.close()
        # services.stop() closes it, after in-flight requests have drained.

    app.cleanup_ctx.append(client_session)
    app.router.add_route("*", "/{tail:(?s:.*)}", proxy)  # (?s): even a decoded newline reaches the canonicalizer
