"""The developer pages' handlers: the checks every request needs (a signed-in user, the CSRF token on a change,
ownership), then one call to the application lifecycle service, answered as a page or as JSON."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from aiohttp import web
from multidict import MultiDictProxy

from gateway import applications
from gateway.applications import ApplicationService
from gateway.audit import Actor
from gateway.errors import Invalid, NotFound, OAuthError
from gateway.httputil import read_form
from gateway.keys import REQUEST_ID, SERVICES
from gateway.models import Application
from gateway.portal import sessions
from gateway.portal.developer import PATH
from gateway.portal.developer.api import app_json, json_object, json_response
from gateway.portal.developer.forms import check_fields, form_fields
from gateway.portal.developer.views import (
    ALREADY_SUBMITTED,
    NOTICES,
    delete_page,
    form_page,
    list_page,
    not_found_page,
)
from gateway.portal.login import finish, require_user, session_for
from gateway.portal.negotiation import is_form, prefers_html
from gateway.portal.pages import error_page, redirect
from gateway.portal.sessions import Session
from gateway.services import Services

_MAX_CLIENT_ID = 64  # ours are 22 characters; anything far longer is not worth a store round trip
_FORM_NAMESPACE = "devform"  # one counter per submitted register form: a reload must not register twice


# --- request plumbing -----------------------------------------------------------------------------------------


def _csrf_problem(services: Services, session: Session, presented: str | None, html: bool) -> web.Response | None:
    if sessions.csrf_ok(services.hasher, session, presented):
        return None
    if html:
        return error_page("Form expired", "This form is not valid for your current session. Go back, reload the "
                          "page and try again.", status=403)
    raise OAuthError("invalid_request", "the CSRF token (X-CSRF-Token header or csrf field) is missing or does "
                     "not match the session", status=403)


def _actor(request: web.Request, session: Session) -> Actor:
    return Actor(f"user:{session.user_id}", request.get(REQUEST_ID, ""))


def _csrf(services: Services, session: Session) -> str:
    return sessions.csrf_token(services.hasher, session)


async def _owned(services: Services, session: Session, client_id: str) -> Application:
    """The session user's application, or NotFound: another user's client id looks exactly like an unknown one."""
    app = await services.store.get_app(client_id) if 0 < len(client_id) <= _MAX_CLIENT_ID else None
    if app is None or app.owner != session.user_id:
        raise NotFound(f"no application {client_id!r}")
    return app


@dataclass(frozen=True, slots=True)
class _Change:
    """A change request that passed the checks every change needs: a signed-in user and a matching CSRF token."""

    session: Session
    html: bool  # a form post from the page (else JSON)
    form: MultiDictProxy[str] | None  # the submitted form, for pages


async def _begin_change(request: web.Request, return_to: str) -> _Change | web.StreamResponse:
    services = request.app[SERVICES]
    html = is_form(request)
    outcome = await session_for(request, html, return_to)
    if isinstance(outcome, web.Response):
        return outcome
    form = await read_form(request) if html else None
    presented = form.get("csrf") if form is not None else request.headers.get("X-CSRF-Token")
    problem = _csrf_problem(services, outcome, presented, html)
    if problem is not None:
        return problem
    return _Change(outcome, html, form)


async def _owned_for(
    request: web.Request, session: Session, html: bool, client_id: str
) -> Application | web.StreamResponse:
    """The user's own application, or the not-found answer (a page, or NotFound for JSON)."""
    try:
        return await _owned(request.app[SERVICES], session, client_id)
    except NotFound:
        if html:
            return finish(not_found_page(), request, session)
        raise


# --- handlers -------------------------------------------------------------------------------------------------


async def list_apps(request: web.Request) -> web.StreamResponse:
    html = prefers_html(request)
    outcome = await session_for(request, html, PATH)
    if isinstance(outcome, web.Response):
        return outcome
    session = outcome
    services = request.app[SERVICES]
    apps = await services.store.list_apps(session.user_id)
    if not html:
        body = {"applications": [app_json(a) for a in apps], "csrf_token": _csrf(services, session)}
        return finish(json_response(body), request, session)
    notice = NOTICES.get(request.query.get("done", ""), "")
    return finish(list_page(services.settings, apps, notice=notice), request, session)


async def new_form(request: web.Request) -> web.StreamResponse:
    outcome = await require_user(request, PATH + "/new")
    if isinstance(outcome, web.Response):
        return outcome
    services = request.app[SERVICES]
    # Defaults from the manual: every scope ticked, Server-Side Application on.
    values = {"name": "", "redirect_uri": "", "server_side": True, "scopes": list(services.settings.scopes)}
    resp = form_page(services.settings, _csrf(services, outcome), values, form_id=secrets.token_urlsafe(16))
    return finish(resp, request, outcome)


async def create(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    change = await _begin_change(request, PATH + "/new")
    if not isinstance(change, _Change):
        return change
    session, html, form = change.session, change.html, change.form
    if form is not None:
        fields = form_fields(form)
        form_id = form.get("form_id", "")
        try:
            applications.validate_fields({**fields, "owner": session.user_id}, list(services.settings.scopes),
                                         partial=False)
        except Invalid as exc:
            # Re-render with what was typed: the user loses nothing and sees the message next to the field.
            page = form_page(services.settings, _csrf(services, session), fields, errors=exc.fields,
                             form_id=form_id, status=422)
            return finish(page, request, session)
        # A reload (or double click) of the POST must not register a second application: the first submission of
        # this form's id wins; later ones see the list (the secret was shown once, to the first).
        if form_id and await services.store.hit_counter(
                _FORM_NAMESPACE, services.hasher.hash(f"sgdevform|{session.user_id}|{form_id}"),
                services.settings.login.session_ttl) > 1:
            apps = await services.store.list_apps(session.user_id)
            return finish(list_page(services.settings, apps, notice=ALREADY_SUBMITTED), request, session)
    else:
        fields = await json_object(request)
        check_fields(fields)
    reg = await ApplicationService(services).register(
        _actor(request, session), {**fields, "owner": session.user_id, "published": False})
    if not html:
        body = {**app_json(reg.application), "client_secret": reg.client_secret}
        return finish(json_response(body, status=201), request, session)
    # Rendered straight into this response (never a redirect carrying the secret): the page headers already say
    # no-store, so neither the browser's cache nor a proxy keeps it.
    apps = await services.store.list_apps(session.user_id)
    return finish(list_page(services.settings, apps, created=reg), request, session)


async def edit_form(request: web.Request) -> web.StreamResponse:
    client_id = request.match_info["client_id"]
    html = prefers_html(request)
    outcome = await session_for(request, html, f"{PATH}/{client_id}")
    if isinstance(outcome, web.Response):
        return outcome
    session = outcome
    services = request.app[SERVICES]
    app = await _owned_for(request, session, html, client_id)
    if not isinstance(app, Application):
        return app
    if not html:
        return finish(json_response(app_json(app)), request, session)
    values = {"name": app.name, "redirect_uri": app.redirect_uri, "server_side": app.server_side,
              "scopes": list(app.scopes)}
    return finish(form_page(services.settings, _csrf(services, session), values, app=app), request, session)


async def update(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    client_id = request.match_info["client_id"]
    change = await _begin_change(request, f"{PATH}/{client_id}")
    if not isinstance(change, _Change):
        return change
    session, html = change.session, change.html
    if change.form is not None:
        fields = form_fields(change.form)
    else:
        fields = await json_object(request)
        check_fields(fields)
    before = await _owned_for(request, session, html, client_id)
    if not isinstance(before, Application):
        return before
    try:
        after = await ApplicationService(services).edit(_actor(request, session), client_id, fields, before=before)
    except Invalid as exc:
        if not html:
            raise
        page = form_page(services.settings, _csrf(services, session), fields, app=before, errors=exc.fields,
                         status=422)
        return finish(page, request, session)
    except NotFound:
        if html:  # deleted (in another tab) between the ownership check and the write
            return finish(not_found_page(), request, session)
        raise
    if not html:
        return finish(json_response(app_json(after)), request, session)
    return finish(redirect(f"{PATH}?done=updated", status=303), request, session)


async def delete_confirm(request: web.Request) -> web.StreamResponse:
    """The confirmation step of Delete: says what happens to live tokens before anything is done."""
    client_id = request.match_info["client_id"]
    outcome = await require_user(request, f"{PATH}/{client_id}/delete")
    if isinstance(outcome, web.Response):
        return outcome
    session = outcome
    services = request.app[SERVICES]
    app = await _owned_for(request, session, True, client_id)
    if not isinstance(app, Application):
        return app
    return finish(delete_page(app, _csrf(services, session)), request, session)


async def delete(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    client_id = request.match_info["client_id"]
    change = await _begin_change(request, f"{PATH}/{client_id}")
    if not isinstance(change, _Change):
        return change
    session, html = change.session, change.html
    owned = await _owned_for(request, session, html, client_id)
    if not isinstance(owned, Application):
        return owned
    try:
        await ApplicationService(services).delete(_actor(request, session), client_id)
    except NotFound:
        if html:
            return finish(not_found_page(), request, session)
        raise
    if not html:
        return finish(json_response({"client_id": client_id, "deleted": True, "cleanup": "scheduled"}),
                      request, session)
    return finish(redirect(f"{PATH}?done=deleted", status=303), request, session)
