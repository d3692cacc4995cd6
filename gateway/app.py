"""Build the public aiohttp application (OAuth server, account pages, health, proxy); each part registers its own
routes. The admin listener's app is admin.app's; gateway/compose.py wires both."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gateway import health
from gateway import services as lifecycle
from gateway.keys import SERVICES
from gateway.middleware import gateway_middleware
from gateway.oauth import setup_routes as setup_oauth
from gateway.portal import setup_routes as setup_portal
from gateway.proxy.handler import setup_proxy
from gateway.services import Services


def build_public_app(services: Services) -> web.Application:
    # client_max_size bounds only bodies that aiohttp itself reads (forms, JSON); proxied bodies are streamed.
    # auto_decompress=False: a proxied body is relayed byte for byte with the client's framing; decoding it here
    # would change its length under its Content-Length (a request-smuggling vector). keepalive_timeout is also the
    # head-read deadline: a connection idle or still sending a request head after it is closed (slowloris).
    app = web.Application(
        middlewares=[gateway_middleware],
        client_max_size=1024 * 1024,
        handler_args={
            "max_field_size": 16384,
            "auto_decompress": False,
            "keepalive_timeout": services.settings.client_idle_timeout,
        },
    )
    app[SERVICES] = services
    health.setup_routes(app)
    setup_oauth(app)
    setup_portal(app)
    setup_proxy(app)  # last: the catch-all that serves every other path through the route table

    async def lifecycle_ctx(_: web.Application) -> AsyncIterator[None]:
        await lifecycle.start(services)
        yield
        await lifecycle.stop(services)

    app.cleanup_ctx.append(lifecycle_ctx)
    return app
