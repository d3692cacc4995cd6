"""The authorization endpoint (RFC 6749 §4.1.1-4.1.2, RFC 7636 §4.3, RFC 9207) and the consent decision.

Until the client and its redirect URI are verified, errors are an HTML page (never a redirect: an unverified
URI would make us an open redirector). After that, every error goes back to the registered URI with `error`,
`state` and `iss`. The pending request lives server-side, bound to the session; the consent form carries only
an opaque request id and a CSRF token, so editing hidden fields cannot change what is granted.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from aiohttp import web

from gateway.audit import AuditAction
from gateway.errors import (
    AccessDenied,
    ClientRedirect,
    ConsentRequired,
    ErrorPage,
    InvalidRequest,
    InvalidScope,
    LoginRequired,
    OAuthError,
    SignInRequired,
    UnsupportedResponseType,
)
from gateway.httputil import read_form, single_params
from gateway.keys import SERVICES
from gateway.models import Application, Authorization, PendingCode
from gateway.oauth.common import resolve_scopes
from gateway.portal import identity, sessions
from gateway.portal.login import identity_still_matches, require_user
from gateway.portal.pages import redirect, render_page
from gateway.portal.pending import VerifiedClient, verify_client
from gateway.portal.sessions import Session
from gateway.redirect_uri import parse_redirect_uri, redirect_uri_matches, with_params
from gateway.security import TokenKind, mint, valid_code_challenge

PENDING = "consent"
_PENDING_TTL = 600

_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "prompt",
)


@dataclass(frozen=True, slots=True)
class AuthRequest:
    app: Application
    redirect_uri: str  # the verified target (for a public client's loopback URI, with the port it asked for)
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    redirect_uri_given: bool = True  # omitted at authorize: the token request must omit it or send the same


def _parse(request: web.Request, client: VerifiedClient) -> AuthRequest:
    app = client.app
    settings = request.app[SERVICES].settings
    p = single_params(request.query, _PARAMS)
    response_type = p.get("response_type")
    if response_type is None:
        raise InvalidRequest("the response_type parameter is missing")
    if response_type != "code":
        raise UnsupportedResponseType("only response_type=code is supported")
    scopes = resolve_scopes(p.get("scope"), app, settings)
    challenge = p.get("code_challenge")
    method = p.get("code_challenge_method")
    if method is not None and method != "S256":
        raise InvalidRequest("the code_challenge_method parameter must be S256 (plain is refused)")
    if challenge is None:
        if method is not None:
            raise InvalidRequest("the code_challenge parameter is missing")
        if not app.server_side:
            raise InvalidRequest("the code_challenge parameter is required (PKCE with S256) for public clients")
    else:
        if method is None:
            # RFC 7636 defaults to plain when the method is omitted; plain is refused, so S256 must be
            # explicit.
            raise InvalidRequest("the code_challenge_method parameter must be S256")
        if not valid_code_challenge(challenge):
            raise InvalidRequest("the code_challenge parameter is not a valid S256 challenge")
    return AuthRequest(app, str(client.redirect_uri), scopes, client.state, challenge, client.redirect_uri_given)


async def issue_code(request: web.Request, req: AuthRequest, user_id: str, status: int) -> web.Response:
    services = request.app[SERVICES]
    raw_code = mint(TokenKind.CODE)
    await services.store.save_code(
        services.hasher.hash(raw_code),
        PendingCode(
            client_id=req.app.client_id,
            user_id=user_id,
            redirect_uri=req.redirect_uri,
            scopes=req.scopes,
            code_challenge=req.code_challenge,
            expires_at=int(time.time()) + services.settings.code_ttl,
            redirect_uri_given=req.redirect_uri_given,
        ),
    )
    params = {"code": raw_code}
    if req.state is not None:
        params["state"] = req.state
    params["iss"] = services.settings.issuer
    return redirect(with_params(req.redirect_uri, params), status=status)


async def authorize(request: web.Request) -> web.StreamResponse:
    client = await verify_client(request, request.query)
    app, redirect_uri, state = client.app, str(client.redirect_uri), client.state
    try:
        req = _parse(request, client)
    except OAuthError as exc:
        raise ClientRedirect(redirect_uri, state, exc) from None
    prompt = request.query.get("prompt", "")

    services = request.app[SERVICES]
    try:
        session = await require_user(request, request.path_qs)
    except SignInRequired:
        if prompt == "none":  # OIDC-style silent check: never show a sign-in page, say so to the client
            raise ClientRedirect(redirect_uri, state, LoginRequired("the user is not signed in")) from None
        raise
    user_id = session.user_id
    if not app.published and user_id != app.owner:
        raise ClientRedirect(
            redirect_uri, state, AccessDenied("this application is not published; only its owner may authorize it")
        )

    previous = await services.store.get_authorization(user_id, app.client_id)
    if previous is not None and set(req.scopes) <= set(previous.scopes) and prompt != "consent":
        # Already granted: no need to ask again (the user can revoke under Authorized Applications).
        return await issue_code(request, req, user_id, 302)
    if prompt == "none":
        raise ClientRedirect(redirect_uri, state, ConsentRequired("the user has not yet authorized these scopes"))
    return await _consent_page(request, req, session)


async def _consent_page(request: web.Request, req: AuthRequest, session: Session) -> web.Response:
    services = request.app[SERVICES]
    request_id = secrets.token_urlsafe(24)
    await services.store.put_ephemeral(
        PENDING,
        services.hasher.hash("sgpending|" + request_id),
        {
            "session": session.key(services.hasher),
            "user_id": session.user_id,
            "client_id": req.app.client_id,
            "redirect_uri": req.redirect_uri,
            "redirect_uri_given": req.redirect_uri_given,
            "scopes": list(req.scopes),
            "state": req.state,
            "code_challenge": req.code_challenge,
        },
        _PENDING_TTL,
    )
    return render_page(
        "consent.html",
        form_target=parse_redirect_uri(req.redirect_uri),  # verified by verify_client, as the sign-in page's
        title=f"Authorize {req.app.name}",
        app_name=req.app.name,
        **identity.consent_names(
            services.settings, services.hasher, session, req.app.owner, parse_redirect_uri(req.redirect_uri).origin
        ),
        scopes=[(s, services.settings.scopes[s]) for s in req.scopes],
        request_id=request_id,
        csrf=sessions.csrf_token(services.hasher, session),
    )


async def consent(request: web.Request) -> web.StreamResponse:
    """The consent decision: only the server-side pending request counts, for the session it was made in."""
    services = request.app[SERVICES]
    try:
        form = single_params(await read_form(request), ("request_id", "csrf", "decision"))
    except OAuthError as exc:
        raise ErrorPage("Invalid request", exc.description) from None
    session = await sessions.load(request)
    if session is None:
        raise ErrorPage("Session expired", "Your session has ended. Start again from the application.")
    if not sessions.csrf_ok(services.hasher, session, form.get("csrf")):
        raise ErrorPage("Invalid request", "The consent form is not valid for this session (csrf).", 403)
    if not await identity_still_matches(request, session):
        raise ErrorPage(
            "Signed-in user changed", "You are now signed in as someone else. Start again from the application.", 403
        )
    request_id = form.get("request_id", "")
    pending = await services.store.take_ephemeral(PENDING, services.hasher.hash("sgpending|" + request_id))
    if pending is None:
        raise ErrorPage("Request expired", "This authorization request expired or was already answered.")
    if pending.get("session") != session.key(services.hasher) or pending.get("user_id") != session.user_id:
        raise ErrorPage("Invalid request", "This authorization request belongs to another session.", 403)

    app = await services.store.get_app(str(pending["client_id"]))
    redirect_uri = str(pending["redirect_uri"])
    state = pending.get("state")
    state = state if isinstance(state, str) else None
    if app is None or not redirect_uri_matches(app.redirect_uri, redirect_uri, public=not app.server_side):
        raise ErrorPage("Application changed", "The application was changed or removed; start again.")
    decision = form.get("decision")
    if decision == "deny":
        raise ClientRedirect(redirect_uri, state, AccessDenied("the user denied the request"), 303)
    if decision != "approve":
        raise ErrorPage("Invalid request", "The decision parameter must be approve or deny.")
    if not app.published and session.user_id != app.owner:
        raise ClientRedirect(
            redirect_uri, state, AccessDenied("this application is not published; only its owner may authorize it"), 303
        )
    # The app's ticked scopes may have shrunk while the page was open: grant only what is still allowed.
    scopes = tuple(s for s in pending["scopes"] if s in app.scopes)
    if not scopes:
        raise ClientRedirect(
            redirect_uri, state, InvalidScope("none of the requested scopes is still allowed for this application"), 303
        )
    previous = await services.store.get_authorization(session.user_id, app.client_id)
    granted = set(scopes) | (set(previous.scopes) if previous else set())
    now = time.time()
    await services.store.record_authorization(
        Authorization(
            user_id=session.user_id,
            client_id=app.client_id,
            scopes=tuple(s for s in services.settings.scopes if s in granted),
            authorized_at=now,
        )
    )
    await services.store.append_audit(
        {
            "action": str(AuditAction.AUTHORIZATION_GRANTED),
            "actor": f"user:{session.user_id}",
            "user_id": session.user_id,
            "client_id": app.client_id,
            "scopes": list(scopes),
        }
    )
    code_challenge = pending.get("code_challenge")
    req = AuthRequest(
        app,
        redirect_uri,
        scopes,
        state,
        code_challenge if isinstance(code_challenge, str) else None,
        pending.get("redirect_uri_given") is not False,
    )
    return await issue_code(request, req, session.user_id, 303)
