"""The browser portal of the public listener: sign-in and sessions, Authorized Applications and the developer
pages, with their templates (templates/, Jinja2, autoescaped) and helpers (throttling, content negotiation).

Import rule: the portal never imports gateway.oauth (the protocol endpoints import the portal for sign-in, the
session, the page frame and throttling, not the other way round).
"""

from __future__ import annotations

from aiohttp import web


def setup_routes(app: web.Application) -> None:
    """Register the portal's routes (before the proxy's catch-all)."""
    from gateway.portal import account, developer, login, pages

    login.setup(app)
    r = app.router
    r.add_get("/oauth/login", login.login_page)
    r.add_post("/oauth/login", login.login_submit)
    r.add_post("/oauth/logout", login.logout)
    r.add_get(pages.SCRIPT_PATH, pages.script)
    r.add_get(account.PATH, account.list_authorized)
    r.add_get(account.PATH + "/{client_id}/revoke", account.revoke_confirm)
    r.add_post(account.PATH + "/{client_id}/revoke", account.revoke_authorized)
    developer.setup_routes(app)
    # Last of /account/: any other path there is the portal's 404 (a page for a browser, JSON for the portal),
    # never the upstream's.
    r.add_route("*", "/account/{tail:.*}", account.unknown_path)
