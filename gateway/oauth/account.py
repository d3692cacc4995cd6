"""Authorized Applications for the logged-in user: list and revoke (JSON for the portal, a small HTML page).

Every change needs the session's CSRF token (the `X-CSRF-Token` header for JSON, a form field for the page);
SameSite=Lax alone would not stop a same-site attacker.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from aiohttp import web

from gateway.errors import NotFound, OAuthError
from gateway.keys import SERVICES
from gateway.oauth import sessions
from gateway.oauth.common import (
    NO_STORE,
    developer_tools_page,
    esc,
    read_form,
    redirect,
    render,
    single_params,
)
from gateway.oauth.login import finish, require_user
from gateway.oauth.sessions import Session

PATH = "/account/authorized-applications"


def _wants_html(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return ("text/html" in accept and accept.find("text/html") < max(accept.find("application/json"), 0)) or (
        "text/html" in accept and "application/json" not in accept
    )


async def _session_or_response(request: web.Request, html: bool) -> Session | web.Response:
    if html:
        return await require_user(request, PATH)
    session = await sessions.load(request)
    mode = request.app[SERVICES].settings.login.mode
    if session is None and mode != "static":
        outcome = await require_user(request, PATH)
        session = outcome if isinstance(outcome, Session) else None
    if session is None:
        raise OAuthError("login_required", "sign in first: no valid session cookie", status=401)
    return session


async def _rows(request: web.Request, user_id: str) -> list[dict[str, object]]:
    services = request.app[SERVICES]
    rows: list[dict[str, object]] = []
    for auth in await services.store.list_authorizations(user_id):
        app = await services.store.get_app(auth.client_id)
        if app is None:
            continue  # deleted: its tokens are dead and its row is being cleaned up
        rows.append({
            "client_id": auth.client_id,
            "name": app.name,
            "scopes": list(auth.scopes),
            "authorized_at": auth.authorized_at,
            "last_used": auth.last_used,
        })
    return rows


def _when(ts: object) -> str:
    if not isinstance(ts, float | int):
        return "never"
    return datetime.fromtimestamp(float(ts), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


async def list_authorized(request: web.Request) -> web.StreamResponse:
    html = _wants_html(request)
    outcome = await _session_or_response(request, html)
    if isinstance(outcome, web.Response):
        return outcome
    session = outcome
    services = request.app[SERVICES]
    rows = await _rows(request, session.user_id)
    csrf = sessions.csrf_token(services.hasher, session)
    if not html:
        body = {"applications": rows, "csrf_token": csrf}
        resp = web.Response(text=json.dumps(body), content_type="application/json", headers=dict(NO_STORE))
        return finish(resp, request, session)
    if rows:
        lines = ['<table class="plain"><thead><tr><th>Application</th><th>Scopes</th><th>Authorized</th>'
                 "<th>Last used</th><th></th></tr></thead><tbody>"]
        for row in rows:
            scopes = ", ".join(esc(s) for s in row["scopes"])  # type: ignore[attr-defined]
            lines.append(
                f"<tr><td>{esc(row['name'])}</td><td>{scopes}</td><td>{esc(_when(row['authorized_at']))}</td>"
                f"<td>{esc(_when(row['last_used']))}</td><td>"
                f'<form method="post" action="{PATH}/{esc(row["client_id"])}/revoke">'
                f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
                f'<button type="submit" class="secondary">Revoke</button></form></td></tr>'
            )
        lines.append("</tbody></table>")
        content = "\n".join(lines)
    else:
        content = '<p class="muted">You have not authorized any application.</p>'
    page_html = developer_tools_page("Authorized Applications", render("authorized_apps.html", body=content),
                                     active="authorized", size="medium")
    return finish(page_html, request, session)


async def revoke_authorized(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    client_id = request.match_info["client_id"]
    is_form = request.content_type == "application/x-www-form-urlencoded"
    outcome = await _session_or_response(request, False)
    assert isinstance(outcome, Session)  # JSON mode never returns a response
    session = outcome
    presented = request.headers.get("X-CSRF-Token")
    if is_form:
        presented = single_params(await read_form(request), ("csrf",)).get("csrf")
    if not sessions.csrf_ok(services.hasher, session, presented):
        raise OAuthError("invalid_request", "the CSRF token (X-CSRF-Token header or csrf field) is "
                         "missing or does not match the session", status=403)
    if not await services.store.revoke_user_app(session.user_id, client_id):
        raise NotFound(f"no authorization of application {client_id!r} for this user")
    await services.store.append_audit({
        "action": "authorization.revoked", "actor": f"user:{session.user_id}", "user_id": session.user_id,
        "client_id": client_id,
    })
    if is_form:
        return finish(redirect(PATH, status=303), request, session)
    resp = web.Response(text=json.dumps({"revoked": True, "client_id": client_id, "revoked_at": time.time()}),
                        content_type="application/json", headers=dict(NO_STORE))
    return finish(resp, request, session)
