"""The admin listener's application."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.keys import SERVICES
from gateway.middleware import gateway_middleware
from gateway.services import Services


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[SERVICES].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_admin_app(services: Services) -> web.Application:
    app = web.Application(middlewares=[gateway_middleware])
    app[SERVICES] = services
    app.router.add_get("/metrics", metrics)
    return app
