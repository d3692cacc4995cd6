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
from gateway.metrics import build_metrics_app
from gateway.network import local_address
from gateway.reload import reload_routes
from gateway.services import build_services
from gateway.settings import Settings

log = logging.getLogger("scopegate")


def demo_banner(settings: Settings, demo_admin_token: str | None) -> str:
    """What a newcomer needs after `scopegate serve --config config/demo.yaml`: where to go, who to be, the token."""
    from gateway.security import verify_password

    base = settings.public_url
    admin = f"http://{local_address(settings.admin_host)}:{settings.admin_port}"
    lines = [
        "",
        "scopegate demo is running.",
        f"  Open Developer Tools:  {base}/account/developer/applications",
    ]
    if any(u.username == "demo" and verify_password("demo", u.password_hash) for u in settings.login.users):
        lines.append("  Sign in as:           demo / demo")
    lines += [
        "  Register an application there, then authorize it (replace CLIENT_ID):",
        f"    {base}/oauth/authorize?response_type=code&client_id=CLIENT_ID"
        "&redirect_uri=http://localhost:3000/callback&scope=events:read&state=xyz",
        f"  Try the API:          curl -i {base}/v1/events   (401 until you send a token)",
    ]
    if demo_admin_token:
        lines += [
            "  Admin API token (this run only), ready to paste:",
            f"    export SCOPEGATE_ADMIN_TOKEN={demo_admin_token}",
            f'    curl -H "Authorization: Bearer $SCOPEGATE_ADMIN_TOKEN" {admin}/admin/applications',
        ]
    else:
        lines.append(f"  Admin API:            {admin}/admin/applications (token from SCOPEGATE_ADMIN_TOKEN)")
    return "\n".join(lines) + "\n"


async def serve(settings: Settings, reuse_port: bool, demo_admin_token: str | None = None) -> None:
    """Build everything from the settings, listen, and run until SIGTERM/SIGINT (SIGHUP reloads the routes).

    `demo_admin_token` is the admin token the CLI generated for a memory:// (demo) run; with the embedded store a
    banner on stdout says what to open, who to sign in as and how to use that token."""
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
    await web.TCPSite(public, settings.listen_host, settings.listen_port, reuse_port=reuse_port, backlog=1024).start()
    runners.append(public)
    admin = web.AppRunner(build_admin_app(services), access_log=None)
    await admin.setup()
    await web.TCPSite(admin, settings.admin_host, settings.admin_port, reuse_port=reuse_port).start()
    runners.append(admin)
    if settings.metrics_enabled:
        metrics = web.AppRunner(build_metrics_app(services.metrics), access_log=None)
        await metrics.setup()
        await web.TCPSite(metrics, settings.metrics_host, settings.metrics_port, reuse_port=reuse_port).start()
        runners.append(metrics)
        log.info("metrics listening on %s:%d (GET /metrics only)", settings.metrics_host, settings.metrics_port)
    # Everything built so far lives for the whole run: move it out of the collector's reach, so full collections
    # triggered by per-request garbage scan only what requests made (shorter pauses, better tail latency).
    gc.freeze()
    log.info(
        "scopegate listening on %s:%d (public), %s:%d (admin), upstream %s",
        settings.listen_host,
        settings.listen_port,
        settings.admin_host,
        settings.admin_port,
        settings.upstream,
    )
    if settings.redis_url.startswith("memory://"):
        print(demo_banner(settings, demo_admin_token), flush=True)

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
