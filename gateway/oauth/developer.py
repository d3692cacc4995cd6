"""OAuth Applications (Settings > Integrations > Developer Tools): a user registers, edits and deletes their own
applications. Server-rendered pages for the browser and a JSON twin for the portal.

Rules this module keeps:
- Only the owner sees or changes an application; anyone else's client id answers 404 (not 403), so client ids of
  other users cannot be confirmed by probing.
- Every change needs the session's CSRF token (form field `csrf`, or the `X-CSRF-Token` header for JSON).
- The client secret exists in clear only in the response to the create request (rendered straight into that page,
  never into a URL, a log, the session or Redis); editing never shows or changes it.
- A user-registered application starts unpublished (single-tenant: only its owner can authorize it); publication
  is Apptoto's decision, so `published` and `owner` are not editable here.
- Changes reach live tokens at once: the store publishes them, and this process drops its own cached facts now.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from multidict import MultiDictProxy

from gateway import applications, jsonbody
from gateway.errors import Invalid, NotFound, OAuthError, StoreUnavailable
from gateway.keys import REQUEST_ID, SERVICES
from gateway.models import Application
from gateway.oauth import sessions
from gateway.oauth.common import NO_STORE, developer_tools_page, error_page, esc, read_form, redirect, render
from gateway.oauth.login import finish, require_user
from gateway.oauth.sessions import Session
from gateway.services import Services

log = logging.getLogger("scopegate.oauth.developer")

PATH = "/account/developer/applications"

# The same action names as the admin API's audit record (admin/audit.py), so one query finds every change to an
# application whoever made it. Repeated here because the gateway must not import the admin package.
APPLICATION_CREATED = "application.created"
APPLICATION_UPDATED = "application.updated"
APPLICATION_DELETED = "application.deleted"
APPLICATION_CLEANED_UP = "application.cleaned_up"

_EDITABLE = ("name", "redirect_uri", "server_side", "scopes")
_LABELS = {"name": "Name", "redirect_uri": "Redirect URI", "server_side": "Server-Side Application",
           "scopes": "Scopes"}
_MAX_CLIENT_ID = 64  # ours are 22 characters; anything far longer is not worth a store round trip
_FORM_NAMESPACE = "devform"  # one counter per submitted register form: a reload must not register twice
_NOTICES = {
    "updated": "Application saved. Tokens already issued keep working, limited to the scopes ticked now.",
    "deleted": "Application deleted. Every access token issued to it has been revoked.",
}


# --- request plumbing -----------------------------------------------------------------------------------------


def _prefers_html(request: web.Request) -> bool:
    """Content negotiation for GET: HTML only when the browser asks for it ahead of JSON (as account.py does)."""
    accept = request.headers.get("Accept", "")
    html_at = accept.find("text/html")
    json_at = accept.find("application/json")
    return html_at >= 0 and (json_at < 0 or html_at < json_at)


def _is_form(request: web.Request) -> bool:
    """A change from the HTML page: the page's forms post urlencoded; everything else is the JSON twin."""
    return request.content_type == "application/x-www-form-urlencoded"


async def _session(request: web.Request, html: bool, return_to: str) -> Session | web.Response:
    """The logged-in user's session. The pages send the browser to sign in; JSON callers get a 401 instead of a
    login redirect they could not follow."""
    if html:
        return await require_user(request, return_to)
    session = await sessions.load(request)
    if session is None and request.app[SERVICES].settings.login.mode != "static":
        outcome = await require_user(request, return_to)
        session = outcome if isinstance(outcome, Session) else None
    if session is None:
        raise OAuthError("login_required", "sign in first: no valid session cookie", status=401)
    return session


def _csrf_problem(services: Services, session: Session, presented: str | None, html: bool) -> web.Response | None:
    if sessions.csrf_ok(services.hasher, session, presented):
        return None
    if html:
        return error_page("Form expired", "This form is not valid for your current session. Go back, reload the "
                          "page and try again.", status=403)
    raise OAuthError("invalid_request", "the CSRF token (X-CSRF-Token header or csrf field) is missing or does "
                     "not match the session", status=403)


async def _json_object(request: web.Request) -> dict[str, object]:
    raw = await request.read()
    try:
        body = jsonbody.loads(raw)
    except jsonbody.TooDeep as exc:
        # Not a field problem: the body as a whole is refused before it is parsed (400, like the admin API).
        raise OAuthError("invalid_request", f"the body is not acceptable JSON: {exc}", status=400) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid({"body": "must be a JSON object"}) from exc
    if not isinstance(body, dict):
        raise Invalid({"body": "must be a JSON object"})
    return body


def _json(body: Mapping[str, object], status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json",
                        headers=dict(NO_STORE))


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
    html = _is_form(request)
    outcome = await _session(request, html, return_to)
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
            return finish(_not_found_page(), request, session)
        raise


def _not_found_page() -> web.Response:
    return error_page("Application not found", "There is no such application among yours.", status=404)


async def _audit(request: web.Request, session: Session, action: str, **details: object) -> None:
    """Record one event. The change has already happened, so a failed write is logged loudly rather than turned
    into an error that would make the user retry a completed change (the admin API does the same)."""
    event: dict[str, object] = {"action": action, "actor": f"user:{session.user_id}", **details,
                                "request_id": request.get(REQUEST_ID, "")}
    try:
        await request.app[SERVICES].store.append_audit(event)
    except StoreUnavailable:
        log.error("audit event %s for %s could not be written (store unavailable)", action, details)


def _drop_local(services: Services, client_id: str) -> None:
    """Drop this process's cached facts of the application now instead of waiting for our own published message
    to come back; the word in the time field keeps it out of the propagation metric (as in admin/views.py)."""
    services.validator.on_revocation(f"local a {client_id}")


def _app_json(app: Application) -> dict[str, object]:
    """An application as its owner sees it (never a secret)."""
    return {
        "client_id": app.client_id,
        "name": app.name,
        "redirect_uri": app.redirect_uri,
        "server_side": app.server_side,
        "scopes": list(app.scopes),
        "published": app.published,
        "created_at": app.created_at,
        "updated_at": app.updated_at,
    }


def _check_fields(body: Mapping[str, object]) -> None:
    """Only the four user-editable fields; `owner` and `published` are Apptoto's, ids and secrets are fixed."""
    problems = {k: ("cannot be changed" if k in ("client_id", "client_secret", "owner", "published")
                    else "unknown field") for k in body if k not in _EDITABLE}
    if problems:
        raise Invalid(problems)


# --- form values ----------------------------------------------------------------------------------------------


def _form_fields(form: MultiDictProxy[str]) -> dict[str, object]:
    """What the register/edit form submitted. An unticked checkbox is simply absent, so the toggle and the scopes
    are read from presence; repeated single-value fields are refused (only a tampered form repeats them)."""
    for name in ("name", "redirect_uri", "csrf", "form_id"):
        if len(form.getall(name, [])) > 1:
            raise OAuthError("invalid_request", f"the {name} field is repeated")
    return {
        "name": form.get("name", ""),
        "redirect_uri": form.get("redirect_uri", "").strip(),
        "server_side": "server_side" in form,
        "scopes": list(dict.fromkeys(form.getall("scope", []))),
    }


def _field_message(field: str, message: str) -> str:
    """A field error as a sentence next to the field: "Redirect URI must use https ...", "Tick at least one ..."."""
    if message == "must be a non-empty string":
        message = "is required"
    if message.startswith(("must", "is ", "cannot")):
        return f"{_LABELS.get(field, field)} {message}."
    return message[:1].upper() + message[1:] + "."


# --- HTML -----------------------------------------------------------------------------------------------------


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


_GEAR = ('<svg aria-hidden="true" width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
         'stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><circle cx="12" cy="12" r="3"/>'
         '<path d="M19.4 15a1.65 1.65 0 0 0 .33 1.82l.06.06a2 2 0 1 1-2.83 2.83l-.06-.06a1.65 1.65 0 0 0-1.82-.33 '
         '1.65 1.65 0 0 0-1 1.51V21a2 2 0 1 1-4 0v-.09A1.65 1.65 0 0 0 9 19.4a1.65 1.65 0 0 0-1.82.33l-.06.06a2 2 0 '
         '1 1-2.83-2.83l.06-.06A1.65 1.65 0 0 0 4.68 15a1.65 1.65 0 0 0-1.51-1H3a2 2 0 1 1 0-4h.09A1.65 1.65 0 0 0 '
         '4.6 9a1.65 1.65 0 0 0-.33-1.82l-.06-.06a2 2 0 1 1 2.83-2.83l.06.06A1.65 1.65 0 0 0 9 4.68a1.65 1.65 0 0 0 '
         '1-1.51V3a2 2 0 1 1 4 0v.09a1.65 1.65 0 0 0 1 1.51 1.65 1.65 0 0 0 1.82-.33l.06-.06a2 2 0 1 1 2.83 2.83l-.06'
         '.06A1.65 1.65 0 0 0 19.4 9a1.65 1.65 0 0 0 1.51 1H21a2 2 0 1 1 0 4h-.09a1.65 1.65 0 0 0-1.51 1z"/></svg>')


def _layout(title: str, content: str, *, active: str, status: int = 200) -> web.Response:
    return developer_tools_page(title, content, active=active, status=status)


def _scope_summary(app: Application, catalog: Sequence[str]) -> str:
    chips = "".join(f'<li><code>{esc(s)}</code></li>' for s in app.scopes)
    label = f"All {len(catalog)}" if len(app.scopes) == len(catalog) else f"{len(app.scopes)} of {len(catalog)}"
    return f'<details><summary>{label}</summary><ul class="chips">{chips}</ul></details>'


def _list_page(services: Services, apps: Sequence[Application], *, created: applications.Registered | None = None,
               notice: str = "", status: int = 200) -> web.Response:
    catalog = list(services.settings.scopes)
    parts: list[str] = []
    if created is not None:
        app = created.application
        pkce = ("" if app.server_side else
                '<p class="muted">Server-Side Application is off, so this application signs in with PKCE and does '
                "not send the secret. Keep it anyway if you may turn Server-Side on later.</p>")
        parts.append(
            '<section class="secret" role="status" aria-labelledby="created-title">'
            f'<h2 id="created-title">{esc(app.name)} is registered</h2>'
            '<p><strong>Copy the client secret now: it is shown only this once.</strong> '
            "If you lose it, delete the application and register a new one.</p>"
            '<dl class="credentials">'
            f'<dt>Client ID</dt><dd><code id="client-id">{esc(app.client_id)}</code></dd>'
            f'<dt>Client Secret</dt><dd><code id="client-secret">{esc(created.client_secret)}</code></dd>'
            f"</dl>{pkce}</section>"
        )
    if notice:
        parts.append(f'<p class="notice" role="status">{esc(notice)}</p>')
    parts.append(f'<div class="toolbar"><a class="button primary" href="{PATH}/new">Register OAuth Application</a>'
                 "</div>")
    if apps:
        rows = []
        for app in apps:
            rows.append(
                f'<tr data-client-id="{esc(app.client_id)}"><td class="name">{esc(app.name)}</td>'
                f'<td><code class="id">{esc(app.client_id)}</code></td>'
                f'<td class="uri">{esc(app.redirect_uri)}</td>'
                f'<td>{"On" if app.server_side else "Off (PKCE)"}</td>'
                f"<td>{_scope_summary(app, catalog)}</td><td>{_when(app.created_at)}</td>"
                f'<td class="actions"><a class="gear" href="{PATH}/{esc(app.client_id)}" '
                f'title="Edit {esc(app.name)}" aria-label="Edit {esc(app.name)}">{_GEAR}</a></td></tr>'
            )
        parts.append('<table class="apps"><thead><tr><th>Name</th><th>Client ID</th><th>Redirect URI</th>'
                     "<th>Server-side</th><th>Scopes</th><th>Created</th><th>Actions</th></tr></thead><tbody>"
                     + "".join(rows) + "</tbody></table>")
    else:
        parts.append('<p class="muted empty">You have not registered any OAuth application yet.</p>')
    return _layout("OAuth Applications", render("developer_list.html", body="\n".join(parts)), active="developer",
                   status=status)


def _form_page(services: Services, session: Session, values: Mapping[str, object], *,
               app: Application | None = None, errors: Mapping[str, str] | None = None,
               form_id: str = "", status: int = 200) -> web.Response:
    """The register form (app is None) or the edit form, filled with `values` (what the user typed, on errors)."""
    errors = errors or {}
    csrf = sessions.csrf_token(services.hasher, session)

    def error_for(field: str) -> str:
        msg = errors.get(field)
        return f'<p class="field-error" id="{field}-error">{esc(_field_message(field, msg))}</p>' if msg else ""

    def described(field: str) -> str:
        return f' aria-invalid="true" aria-describedby="{field}-error"' if field in errors else ""

    raw_scopes = values.get("scopes")
    ticked = {s for s in raw_scopes if isinstance(s, str)} if isinstance(raw_scopes, list | tuple) else set()
    scope_items = "\n".join(
        f'<li><label class="scope"><input type="checkbox" name="scope" value="{esc(name)}"'
        f'{" checked" if name in ticked else ""}><code>{esc(name)}</code><span>{esc(desc)}</span></label></li>'
        for name, desc in services.settings.scopes.items()
    )
    other = {k: v for k, v in errors.items() if k not in _EDITABLE}
    summary = ""
    if errors:
        extra = "".join(f"<li>{esc(_field_message(k, v))}</li>" for k, v in other.items())
        summary = (f'<div class="error" role="alert">Please correct the highlighted field(s); nothing you typed '
                   f"has been lost.{f'<ul>{extra}</ul>' if extra else ''}</div>")
    if app is None:
        title, action, submit = "Register OAuth Application", PATH, "Create"
        identity = f'<input type="hidden" name="form_id" value="{esc(form_id)}">'
        danger = ""
    else:
        title, action, submit = f"Edit {app.name}", f"{PATH}/{esc(app.client_id)}", "Save"
        identity = (f'<div class="field"><span class="label">Client ID</span><code class="id" id="client-id">'
                    f"{esc(app.client_id)}</code><p class=\"hint\">The client ID never changes. The client secret "
                    "was shown once when the application was created; it is not shown here and does not change."
                    "</p></div>")
        danger = render("developer_danger.html", action=f"{PATH}/{esc(app.client_id)}/delete")
    content = render(
        "developer_form.html",
        heading=esc(title), summary=summary, action=action, csrf=esc(csrf), identity=identity,
        name_value=esc(values.get("name", "")), name_error=error_for("name"), name_described=described("name"),
        redirect_uri=esc(values.get("redirect_uri", "")), redirect_uri_error=error_for("redirect_uri"),
        redirect_uri_described=described("redirect_uri"),
        server_side_checked=" checked" if values.get("server_side") else "",
        server_side_error=error_for("server_side"),
        scope_items=scope_items, scopes_error=error_for("scopes"), scopes_described=described("scopes"),
        submit=submit, cancel=PATH, danger=danger,
    )
    return _layout(title, content, active="developer", status=status)


# --- handlers -------------------------------------------------------------------------------------------------


async def list_apps(request: web.Request) -> web.StreamResponse:
    html = _prefers_html(request)
    outcome = await _session(request, html, PATH)
    if isinstance(outcome, web.Response):
        return outcome
    session = outcome
    services = request.app[SERVICES]
    apps = await services.store.list_apps(session.user_id)
    if not html:
        body = {"applications": [_app_json(a) for a in apps],
                "csrf_token": sessions.csrf_token(services.hasher, session)}
        return finish(_json(body), request, session)
    notice = _NOTICES.get(request.query.get("done", ""), "")
    return finish(_list_page(services, apps, notice=notice), request, session)


async def new_form(request: web.Request) -> web.StreamResponse:
    outcome = await require_user(request, PATH + "/new")
    if isinstance(outcome, web.Response):
        return outcome
    services = request.app[SERVICES]
    # Defaults from the manual: every scope ticked, Server-Side Application on.
    values = {"name": "", "redirect_uri": "", "server_side": True, "scopes": list(services.settings.scopes)}
    resp = _form_page(services, outcome, values, form_id=secrets.token_urlsafe(16))
    return finish(resp, request, outcome)


async def create(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    change = await _begin_change(request, PATH + "/new")
    if not isinstance(change, _Change):
        return change
    session, html, form = change.session, change.html, change.form
    catalog = list(services.settings.scopes)
    if form is not None:
        fields = _form_fields(form)
        form_id = form.get("form_id", "")
        try:
            applications.validate_fields({**fields, "owner": session.user_id}, catalog, partial=False)
        except Invalid as exc:
            # Re-render with what was typed: the user loses nothing and sees the message next to the field.
            return finish(_form_page(services, session, fields, errors=exc.fields, form_id=form_id, status=422),
                          request, session)
        # A reload (or double click) of the POST must not register a second application: the first submission of
        # this form's id wins; later ones see the list (the secret was shown once, to the first).
        if form_id and await services.store.hit_counter(
                _FORM_NAMESPACE, services.hasher.hash(f"sgdevform|{session.user_id}|{form_id}"),
                services.settings.login.session_ttl) > 1:
            apps = await services.store.list_apps(session.user_id)
            notice = ("This form was already submitted and the application was created. Its client secret was "
                      "shown once; if you did not copy it, delete the application and register a new one.")
            return finish(_list_page(services, apps, notice=notice), request, session)
    else:
        fields = await _json_object(request)
        _check_fields(fields)
    reg = await applications.register(services.store, services.hasher, catalog,
                                      {**fields, "owner": session.user_id, "published": False})
    app = reg.application
    await _audit(request, session, APPLICATION_CREATED, client_id=app.client_id, name=app.name, owner=app.owner,
                 scopes=list(app.scopes))
    if not html:
        return finish(_json({**_app_json(app), "client_secret": reg.client_secret}, status=201), request, session)
    # Rendered straight into this response (never a redirect carrying the secret): the page headers already say
    # no-store, so neither the browser's cache nor a proxy keeps it.
    apps = await services.store.list_apps(session.user_id)
    return finish(_list_page(services, apps, created=reg), request, session)


async def edit_form(request: web.Request) -> web.StreamResponse:
    client_id = request.match_info["client_id"]
    html = _prefers_html(request)
    outcome = await _session(request, html, f"{PATH}/{client_id}")
    if isinstance(outcome, web.Response):
        return outcome
    session = outcome
    services = request.app[SERVICES]
    app = await _owned_for(request, session, html, client_id)
    if not isinstance(app, Application):
        return app
    if not html:
        return finish(_json(_app_json(app)), request, session)
    values = {"name": app.name, "redirect_uri": app.redirect_uri, "server_side": app.server_side,
              "scopes": list(app.scopes)}
    return finish(_form_page(services, session, values, app=app), request, session)


async def update(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    client_id = request.match_info["client_id"]
    change = await _begin_change(request, f"{PATH}/{client_id}")
    if not isinstance(change, _Change):
        return change
    session, html = change.session, change.html
    if change.form is not None:
        fields = _form_fields(change.form)
    else:
        fields = await _json_object(request)
        _check_fields(fields)
    before = await _owned_for(request, change.session, change.html, client_id)
    if not isinstance(before, Application):
        return before
    catalog = list(services.settings.scopes)
    try:
        after = await applications.edit(services.store, catalog, client_id, fields)
    except Invalid as exc:
        if not html:
            raise
        return finish(_form_page(services, session, fields, app=before, errors=exc.fields, status=422),
                      request, session)
    except NotFound:
        if html:  # deleted (in another tab) between the ownership check and the write
            return finish(_not_found_page(), request, session)
        raise
    # update_app published the change to every process; this one drops its cache now, so an unticked scope is
    # refused on the very next request with a live token.
    _drop_local(services, client_id)
    old, new = _app_json(before), _app_json(after)
    changes = {k: {"from": old[k], "to": new[k]} for k in _EDITABLE if k in fields and old[k] != new[k]}
    await _audit(request, session, APPLICATION_UPDATED, client_id=client_id, changes=changes)
    if not html:
        return finish(_json(new), request, session)
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
    content = render("developer_delete.html", app_name=esc(app.name), client_id=esc(app.client_id),
                     action=f"{PATH}/{esc(app.client_id)}/delete", back=f"{PATH}/{esc(app.client_id)}",
                     csrf=esc(sessions.csrf_token(services.hasher, session)))
    return finish(_layout(f"Delete {app.name}", content, active="developer"), request, session)


async def delete(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    client_id = request.match_info["client_id"]
    change = await _begin_change(request, f"{PATH}/{client_id}")
    if not isinstance(change, _Change):
        return change
    session, html = change.session, change.html
    owned = await _owned_for(request, change.session, change.html, client_id)
    if not isinstance(owned, Application):
        return owned
    # The same steps as the admin API's delete: one atomic store step plus one published message, so every
    # token, refresh token and code of the application fails validation from here on, however many there are.
    if not await services.store.delete_app(client_id):
        if html:
            return finish(_not_found_page(), request, session)
        raise NotFound(f"no application {client_id!r}")
    _drop_local(services, client_id)
    services.spawn(_clean_up(services, client_id, f"user:{session.user_id}"), f"cleanup-{client_id}")
    await _audit(request, session, APPLICATION_DELETED, client_id=client_id)
    if not html:
        return finish(_json({"client_id": client_id, "deleted": True, "cleanup": "scheduled"}), request, session)
    return finish(redirect(f"{PATH}?done=deleted", status=303), request, session)


async def _clean_up(services: Services, client_id: str, actor: str) -> None:
    """Reclaim the deleted application's grants and refresh tokens in the background (its tokens are already
    dead; this only frees memory and drops users' Authorized Applications rows)."""
    try:
        removed = await services.store.cleanup_app(client_id)
        await services.store.append_audit({"action": APPLICATION_CLEANED_UP, "actor": actor,
                                           "client_id": client_id, "grants": removed})
    except StoreUnavailable:
        log.warning("clean-up of deleted application %s interrupted (store unavailable)", client_id)
    except Exception:
        log.exception("clean-up of deleted application %s failed", client_id)


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(PATH, list_apps)
    r.add_post(PATH, create)
    r.add_get(PATH + "/new", new_form)  # before /{client_id}: aiohttp matches in registration order
    r.add_get(PATH + "/{client_id}", edit_form)
    r.add_post(PATH + "/{client_id}", update)
    r.add_patch(PATH + "/{client_id}", update)
    r.add_delete(PATH + "/{client_id}", delete)
    r.add_get(PATH + "/{client_id}/delete", delete_confirm)
    r.add_post(PATH + "/{client_id}/delete", delete)
