"""Authorized Applications for the signed-in user: list and revoke (JSON for the portal, a small HTML page).

Every change needs the session's CSRF token (the `X-CSRF-Token` header for JSON, a form field for the page);
SameSite=Lax alone would not stop a same-site attacker. Revoking goes through the same service as the admin API's
(gateway/authorizations.py): every process, this one included, refuses the application's tokens at once.
"""

from __future__ import annotations

import json
import time

from aiohttp import web

from gateway.audit import Actor
from gateway.authorizations import AuthorizationService
from gateway.errors import CsrfRejected, NotFound
from gateway.httputil import NO_STORE, read_form, single_params
from gateway.keys import REQUEST_ID, SERVICES
from gateway.portal import sessions
from gateway.portal.login import session_for
from gateway.portal.negotiation import is_form, prefers_html
from gateway.portal.pages import redirect, render_page

PATH = "/account/authorized-applications"


def _json(body: object) -> web.Response:
    return web.Response(text=json.dumps(body), content_type="application/json", headers=dict(NO_STORE))


async def list_authorized(request: web.Request) -> web.StreamResponse:
    html = prefers_html(request)
    session = await session_for(request, html, PATH)
    services = request.app[SERVICES]
    rows: list[dict[str, object]] = [
        {
            "client_id": auth.client_id,
            "name": app.name,
            "scopes": list(auth.scopes),
            "authorized_at": auth.authorized_at,
            "last_used": auth.last_used,
        }
        for auth, app in await AuthorizationService(services).list(session.user_id)
        if app is not None  # deleted: its tokens are dead and its row is being cleaned up
    ]
    csrf = sessions.csrf_token(services.hasher, session)
    if not html:
        return _json({"applications": rows, "csrf_token": csrf})
    return render_page("authorized_apps.html", title="Authorized Applications", size="medium",
                       active="authorized", rows=rows, csrf=csrf, path=PATH)


async def revoke_authorized(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    client_id = request.match_info["client_id"]
    form = is_form(request)
    session = await session_for(request, False, PATH)
    presented = request.headers.get("X-CSRF-Token")
    if form:
        presented = single_params(await read_form(request), ("csrf",)).get("csrf")
    if not sessions.csrf_ok(services.hasher, session, presented):
        raise CsrfRejected("the CSRF token (X-CSRF-Token header or csrf field) is missing or does not match the "
                           "session")
    actor = Actor(f"user:{session.user_id}", request.get(REQUEST_ID, ""))
    if not await AuthorizationService(services).revoke(actor, session.user_id, client_id):
        raise NotFound(f"no authorization of application {client_id!r} for this user")
    if form:
        return redirect(PATH, status=303)
    return _json({"revoked": True, "client_id": client_id, "revoked_at": time.time()})
