"""Liveness and readiness (public listener): /healthz says the process runs, /readyz that it can serve."""

from __future__ import annotations

import os

from aiohttp import web

from gateway.errors import StoreUnavailable
from gateway.keys import SERVICES


async def healthz(request: web.Request) -> web.Response:
    # The pid tells which worker answered when several share the port (--workers N).
    return web.json_response({"status": "ok", "pid": os.getpid()})


async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    checks: dict[str, object] = {"config": services.settings.source or "loaded", "pid": os.getpid()}
    ready = services.scopes_ready
    try:
        rtt = await services.store.ping()
        services.metrics.redis_latency.observe(rtt)
        checks["redis_ms"] = round(rtt * 1000, 3)
    except StoreUnavailable:
        services.metrics.redis_errors.inc()
        checks["redis"] = "unreachable"
        ready = False
    subscribed = services.validator.subscribed
    checks["revocation_subscription"] = subscribed
    if not subscribed and services.settings.cache_enabled:
        # Requests are still decided (each reads Redis), but this process is degraded: it cannot prove it hears
        # revocations, so it takes every validation to Redis. Say so, so a balancer prefers a process that can.
        ready = False
    return web.json_response({"ready": ready, **checks}, status=200 if ready else 503)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, allow_head=True)
    app.router.add_get("/readyz", readyz, allow_head=True)
