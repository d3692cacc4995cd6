"""Authorized Applications for the signed-in user: list and revoke (JSON for the portal, small HTML pages).

Every change needs the session's CSRF token (the `X-CSRF-Token` header for JSON, a form field for the page);
SameSite=Lax alone would not stop a same-site attacker. Revoking goes through the same service as the admin API's
(gateway/authorizations.py): every process, this one included, refuses the application's tokens at once. In the
browser, Revoke is two steps (GET the confirmation page, POST its form), so it works without scripts, and the list
says what happened afterwards.

The columns follow Apptoto's Authorized Applications: Application, Scopes, Account, Authorized by, Authorized,
Last Used, Revoke. See gateway/portal/identity.py for the model: one user is one account (static and SSO login),
so each row's account is the viewer's and it was authorized by the viewer.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from gateway.audit import Actor
from gateway.authorizations import AuthorizationService
from gateway.errors import CsrfRejected, ErrorPage, NotFound
from gateway.httputil import NO_STORE, read_form, single_params
from gateway.keys import REQUEST_ID, SERVICES
from gateway.portal import identity, sessions
from gateway.portal.login import require_user, session_for
from gateway.portal.negotiation import is_form, prefers_html
from gateway.portal.pages import redirect, render_page
from gateway.portal.sessions import Session
from gateway.services import Services

PATH = "/account/authorized-applications"
_MAX_CLIENT_ID = 64


@dataclass(frozen=True, slots=True)
class AuthorizedRow:
    """One row of Authorized Applications."""

    client_id: str
    name: str
    scopes: tuple[tuple[str, str], ...]  # (name, description)
    account_id: str  # the account the authorization is for (the user's, unless the upstream named one)
    authorized_by: str  # the user who approved the consent screen (one user per account: the viewer)
    authorized_by_name: str
    authorized_at: float
    last_used: float | None


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=dict(NO_STORE))


async def _rows(services: Services, session: Session) -> list[AuthorizedRow]:
    settings = services.settings
    account = identity.account_id(session)
    return [
        AuthorizedRow(
            client_id=auth.client_id,
            name=app.name,
            scopes=tuple((s, settings.scopes.get(s, "")) for s in auth.scopes),
            account_id=account,
            authorized_by=auth.user_id,
            authorized_by_name=identity.display_name(settings, auth.user_id),
            authorized_at=auth.authorized_at,
            last_used=auth.last_used,
        )
        for auth, app in await AuthorizationService(services).list(session.user_id)
        if app is not None  # deleted: its tokens are dead and its row is being cleaned up
    ]


async def _revoked_notice(services: Services, client_id: str) -> str:
    app = await services.store.get_app(client_id) if 0 < len(client_id) <= _MAX_CLIENT_ID else None
    if app is None:
        return "Access revoked. The application's tokens for your account no longer work."
    return (
        f"Revoked {app.name}. Its tokens for your account stopped working; it must ask for your consent again "
        "to reconnect."
    )


async def list_authorized(request: web.Request) -> web.StreamResponse:
    html = prefers_html(request)
    session = await session_for(request, html, PATH)
    services = request.app[SERVICES]
    rows = await _rows(services, session)
    csrf = sessions.csrf_token(services.hasher, session)
    if not html:
        return _json(
            {
                "applications": [
                    {
                        "client_id": r.client_id,
                        "name": r.name,
                        "scopes": [s for s, _ in r.scopes],
                        "account_id": r.account_id,
                        "authorized_by": r.authorized_by,
                        "authorized_at": r.authorized_at,
                        "last_used": r.last_used,
                    }
                    for r in rows
                ],
                "csrf_token": csrf,
            }
        )
    notice = ""
    if request.query.get("done") == "revoked":
        notice = await _revoked_notice(services, request.query.get("client_id", ""))
    return render_page(
        "authorized_apps.html",
        title="Authorized Applications",
        size="wide",
        active="authorized",
        rows=rows,
        path=PATH,
        notice=notice,
        own_account=session.account_id is None,
        account_id=identity.account_id(session),
        viewer_id=session.user_id,
        viewer=identity.viewer(services.settings, services.hasher, session),
    )


async def revoke_confirm(request: web.Request) -> web.StreamResponse:
    """The confirmation step of Revoke: what revoking does, before anything is done."""
    client_id = request.match_info["client_id"]
    if not prefers_html(request):
        raise NotFound("the confirmation step is a page; revoke with POST")
    session = await require_user(request, f"{PATH}/{client_id}/revoke")
    services = request.app[SERVICES]
    row = next((r for r in await _rows(services, session) if r.client_id == client_id), None)
    if row is None:
        raise ErrorPage(
            "Not authorized",
            "You have not authorized this application, or its access was already revoked.",
            status=404,
            reason="not_found",
        )
    return render_page(
        "authorized_revoke.html",
        title=f"Revoke {row.name}",
        size="wide",
        active="authorized",
        row=row,
        path=PATH,
        csrf=sessions.csrf_token(services.hasher, session),
        viewer=identity.viewer(services.settings, services.hasher, session),
    )


async def revoke_authorized(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    client_id = request.match_info["client_id"]
    form = is_form(request)
    session = await session_for(request, False, PATH)
    presented = request.headers.get("X-CSRF-Token")
    if form:
        presented = single_params(await read_form(request), ("csrf",)).get("csrf")
    if not sessions.csrf_ok(services.hasher, session, presented):
        raise CsrfRejected(
            "the CSRF token (X-CSRF-Token header or csrf field) is missing or does not match the session"
        )
    actor = Actor(f"user:{session.user_id}", request.get(REQUEST_ID, ""))
    if not await AuthorizationService(services).revoke(actor, session.user_id, client_id):
        raise NotFound(f"no authorization of application {client_id!r} for this user")
    if form:
        return redirect(f"{PATH}?{urlencode({'done': 'revoked', 'client_id': client_id})}", status=303)
    return _json({"revoked": True, "client_id": client_id, "revoked_at": time.time()})


async def unknown_path(request: web.Request) -> web.StreamResponse:
    """Any other /account/ path: a 404 page for a browser, JSON for the portal."""
    if prefers_html(request):
        raise ErrorPage(
            "Page not found",
            "There is no page at this address. Your Developer Tools pages are "
            "Authorized Applications and OAuth Applications.",
            status=404,
            reason="not_found",
        )
    raise NotFound("no such account resource")
