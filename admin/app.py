"""The admin listener's application: the admin API (admin/views.py), its OpenAPI document, and /metrics.

Every path needs an admin bearer token (admin/auth.py). Nothing here is mounted on the public listener.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from admin.auth import admin_auth_middleware
from admin.openapi import build_openapi
from admin.schemas import json_response
from admin.views import routes
from gateway.keys import SERVICES
from gateway.middleware import gateway_middleware
from gateway.services import Services

OPENAPI = web.AppKey("admin_openapi", dict)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[SERVICES].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])


def build_admin_app(services: Services) -> web.Application:
    # gateway_middleware is outermost, so errors raised by the auth check become responses there too.
    app = web.Application(middlewares=[gateway_middleware, admin_auth_middleware], client_max_size=256 * 1024)
    app[SERVICES] = services
    app[OPENAPI] = build_openapi(services.settings)
    app.router.add_routes(routes)
    app.router.add_get("/admin/openapi.json", openapi)
    app.router.add_get("/metrics", metrics)
    return app
