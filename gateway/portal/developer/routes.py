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
from gateway.errors import CsrfRejected, ErrorPage, GatewayError, Invalid, NotFound
from gateway.httputil import read_form
from gateway.keys import REQUEST_ID, SERVICES
from gateway.models import Application
from gateway.portal import identity, sessions
from gateway.portal.developer import PATH
from gateway.portal.developer.api import app_json, json_object, json_response
from gateway.portal.developer.forms import check_fields, form_fields
from gateway.portal.developer.views import (
    ALREADY_SUBMITTED,
    NOT_FOUND_PAGE,
    NOTICES,
    delete_page,
    form_page,
    list_page,
)
from gateway.portal.identity import Viewer
from gateway.portal.login import require_user, session_for
from gateway.portal.negotiation import is_form, prefers_html
from gateway.portal.pages import redirect
from gateway.portal.sessions import Session
from gateway.services import Services

_MAX_CLIENT_ID = 64  # ours are 22 characters; anything far longer is not worth a store round trip
_FORM_NAMESPACE = "devform"  # one counter per submitted register form: a reload must not register twice


# --- request plumbing -----------------------------------------------------------------------------------------


def _check_csrf(services: Services, session: Session, presented: str | None, html: bool) -> None:
    if sessions.csrf_ok(services.hasher, session, presented):
        return
    if html:
        raise ErrorPage(
            "Form expired",
            "This form is not valid for your current session. Go back, reload the page and try again.",
            status=403,
            reason="csrf",
        )
    raise CsrfRejected("the CSRF token (X-CSRF-Token header or csrf field) is missing or does not match the session")


def _actor(request: web.Request, session: Session) -> Actor:
    return Actor(f"user:{session.user_id}", request.get(REQUEST_ID, ""))


def _csrf(services: Services, session: Session) -> str:
    return sessions.csrf_token(services.hasher, session)


def _viewer(services: Services, session: Session) -> Viewer:
    return identity.viewer(services.settings, services.hasher, session)


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


async def _begin_change(request: web.Request, return_to: str) -> _Change:
    services = request.app[SERVICES]
    html = is_form(request)
    session = await session_for(request, html, return_to)
    form = await read_form(request) if html else None
    presented = form.get("csrf") if form is not None else request.headers.get("X-CSRF-Token")
    _check_csrf(services, session, presented, html)
    return _Change(session, html, form)


def _not_found(html: bool, exc: NotFound) -> GatewayError:
    """What an unknown (or someone else's) application is: a page for the browser, NotFound for JSON."""
    return ErrorPage(*NOT_FOUND_PAGE, status=404, reason="not_found") if html else exc


async def _owned_for(request: web.Request, session: Session, html: bool, client_id: str) -> Application:
    """The user's own application (else not found, as a page or as JSON)."""
    try:
        return await _owned(request.app[SERVICES], session, client_id)
    except NotFound as exc:
        raise _not_found(html, exc) from None


# --- handlers -------------------------------------------------------------------------------------------------


async def list_apps(request: web.Request) -> web.StreamResponse:
    html = prefers_html(request)
    session = await session_for(request, html, PATH)
    services = request.app[SERVICES]
    apps = await services.store.list_apps(session.user_id)
    if not html:
        body = {"applications": [app_json(a) for a in apps], "csrf_token": _csrf(services, session)}
        return json_response(body)
    notice = NOTICES.get(request.query.get("done", ""), "")
    return list_page(services.settings, _viewer(services, session), apps, notice=notice)


async def new_form(request: web.Request) -> web.StreamResponse:
    session = await require_user(request, PATH + "/new")
    services = request.app[SERVICES]
    # Defaults from the manual: every scope ticked, Server-Side Application on.
    values = {"name": "", "redirect_uri": "", "server_side": True, "scopes": list(services.settings.scopes)}
    return form_page(services.settings, _viewer(services, session), values, form_id=secrets.token_urlsafe(16))


async def create(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    change = await _begin_change(request, PATH + "/new")
    session, html, form = change.session, change.html, change.form
    if form is not None:
        fields = form_fields(form)
        form_id = form.get("form_id", "")
        try:
            applications.validate_fields(
                {**fields, "owner": session.user_id}, list(services.settings.scopes), partial=False
            )
        except Invalid as exc:
            # Re-render with what was typed: the user loses nothing and sees the message next to the field.
            page = form_page(
                services.settings, _viewer(services, session), fields, errors=exc.fields, form_id=form_id, status=422
            )
            return page
        # A reload (or double click) of the POST must not register a second application: the first submission of
        # this form's id wins; later ones see the list (the secret was shown once, to the first).
        if (
            form_id
            and await services.store.hit_counter(
                _FORM_NAMESPACE,
                services.hasher.hash(f"sgdevform|{session.user_id}|{form_id}"),
                services.settings.login.session_ttl,
            )
            > 1
        ):
            apps = await services.store.list_apps(session.user_id)
            return list_page(services.settings, _viewer(services, session), apps, notice=ALREADY_SUBMITTED)
    else:
        fields = await json_object(request)
        check_fields(fields)
    reg = await ApplicationService(services).register(
        _actor(request, session), {**fields, "owner": session.user_id, "published": False}
    )
    if not html:
        body = app_json(reg.application)
        if reg.client_secret is not None:  # a public application has none
            body["client_secret"] = reg.client_secret
        return json_response(body, status=201)
    # Rendered straight into this response (never a redirect carrying the secret): the page headers already say
    # no-store, so neither the browser's cache nor a proxy keeps it.
    apps = await services.store.list_apps(session.user_id)
    return list_page(services.settings, _viewer(services, session), apps, created=reg)


async def edit_form(request: web.Request) -> web.StreamResponse:
    client_id = request.match_info["client_id"]
    html = prefers_html(request)
    session = await session_for(request, html, f"{PATH}/{client_id}")
    services = request.app[SERVICES]
    app = await _owned_for(request, session, html, client_id)
    if not html:
        return json_response(app_json(app))
    values = {
        "name": app.name,
        "redirect_uri": app.redirect_uri,
        "server_side": app.server_side,
        "scopes": list(app.scopes),
    }
    return form_page(services.settings, _viewer(services, session), values, app=app)


async def update(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    client_id = request.match_info["client_id"]
    change = await _begin_change(request, f"{PATH}/{client_id}")
    session, html = change.session, change.html
    if change.form is not None:
        fields = form_fields(change.form)
    else:
        fields = await json_object(request)
        check_fields(fields)
    before = await _owned_for(request, session, html, client_id)
    try:
        edited = await ApplicationService(services).edit(_actor(request, session), client_id, fields, before=before)
    except Invalid as exc:
        if not html:
            raise
        page = form_page(
            services.settings, _viewer(services, session), fields, app=before, errors=exc.fields, status=422
        )
        return page
    except NotFound as exc:  # deleted (in another tab) between the ownership check and the write
        raise _not_found(html, exc) from None
    if not html:
        body = app_json(edited.application)
        if edited.client_secret is not None:  # Server-Side turned on: its new secret, shown this once
            body["client_secret"] = edited.client_secret
        return json_response(body)
    if edited.client_secret is not None:  # rendered straight into this response, never a redirect carrying it
        apps = await services.store.list_apps(session.user_id)
        return list_page(services.settings, _viewer(services, session), apps, created=edited)
    return redirect(f"{PATH}?done=updated", status=303)


async def delete_confirm(request: web.Request) -> web.StreamResponse:
    """The confirmation step of Delete: says what happens to live tokens before anything is done."""
    client_id = request.match_info["client_id"]
    session = await require_user(request, f"{PATH}/{client_id}/delete")
    services = request.app[SERVICES]
    app = await _owned_for(request, session, True, client_id)
    return delete_page(app, _viewer(services, session))


async def delete(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    client_id = request.match_info["client_id"]
    change = await _begin_change(request, f"{PATH}/{client_id}")
    session, html = change.session, change.html
    await _owned_for(request, session, html, client_id)
    try:
        await ApplicationService(services).delete(_actor(request, session), client_id)
    except NotFound as exc:
        raise _not_found(html, exc) from None
    if not html:
        return json_response({"client_id": client_id, "deleted": True, "cleanup": "scheduled"})
    return redirect(f"{PATH}?done=deleted", status=303)
