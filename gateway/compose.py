"""The composition root: the one module that wires settings, store, services, the public app and the admin app.

Nothing below it imports `admin`; `admin` imports only the gateway services it uses. The CLI calls `serve`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from urllib.parse import urlsplit

from aiohttp import web

from admin.app import build_admin_app
from gateway.app import build_public_app
from gateway.demo_upstream import build_demo_upstream
from gateway.reload import reload_routes
from gateway.services import build_services
from gateway.settings import Settings

log = logging.getLogger("scopegate")


async def serve(settings: Settings, reuse_port: bool) -> None:
    """Build everything from the settings, listen, and run until SIGTERM/SIGINT (SIGHUP reloads the routes)."""
    services = build_services(settings)
    runners: list[web.AppRunner] = []
    if settings.demo_upstream:
        up = urlsplit(settings.upstream)
        demo = web.AppRunner(build_demo_upstream(), access_log=None)
        await demo.setup()
        await web.TCPSite(demo, up.hostname, up.port or 80).start()
        runners.append(demo)
        log.info("demo upstream listening on %s", settings.upstream)
    public_app = build_public_app(services)
    public = web.AppRunner(public_app, access_log=None, handler_cancellation=True, shutdown_timeout=30)
    await public.setup()
    await web.TCPSite(public, settings.listen_host, settings.listen_port, reuse_port=reuse_port,
                      backlog=1024).start()
    runners.append(public)
    admin = web.AppRunner(build_admin_app(services), access_log=None)
    await admin.setup()
    await web.TCPSite(admin, settings.admin_host, settings.admin_port, reuse_port=reuse_port).start()
    runners.append(admin)
    # Everything built so far lives for the whole run: move it out of the collector's reach, so full collections
    # triggered by per-request garbage scan only what requests made (shorter pauses, better tail latency).
    gc.freeze()
    log.info("scopegate listening on %s:%d (public), %s:%d (admin), upstream %s",
             settings.listen_host, settings.listen_port, settings.admin_host, settings.admin_port,
             settings.upstream)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload_routes, public_app)
    await stop.wait()
    log.info("shutting down: draining in-flight requests")
    # The public runner is cleaned up first: it stops accepting and waits for in-flight requests to finish.
    for runner in reversed(runners):
        await runner.cleanup()
