"""The token endpoint (RFC 6749 §4.1.3, §5, §6; RFC 7636 §4.5-4.6): authorization_code and refresh_token
grants.

Codes are redeemed atomically; a second redemption revokes the grant the first one produced. Refresh tokens
rotate on every use; presenting a rotated one revokes the whole grant (the legitimate holder and the thief
cannot be told apart, so both lose it). Tokens are minted only by `gateway.issuance`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace

from aiohttp import web
from multidict import MultiDictProxy

from gateway.errors import InvalidGrant, InvalidRequest, InvalidScope, InvalidToken, OAuthError, UnsupportedGrantType
from gateway.httputil import NO_STORE, read_form, single_params
from gateway.issuance import IssuedTokens, continue_grant, start_grant
from gateway.keys import SERVICES
from gateway.models import Application
from gateway.oauth import cors
from gateway.oauth.clientauth import authenticate_client
from gateway.oauth.common import resolve_scopes
from gateway.redirect_uri import redirect_uri_matches
from gateway.security import TokenKind, pkce_matches, well_formed

log = logging.getLogger("scopegate.oauth.token")


def _grant_error(description: str) -> OAuthError:
    return InvalidGrant(description)


async def token(request: web.Request) -> web.Response:
    cors.vary(request)
    form = await read_form(request)
    await cors.allow_app_origin(request, form)  # before anything can fail: a browser app reads its errors too
    grant_type = single_params(form, ("grant_type",)).get("grant_type")
    if grant_type is None:
        raise InvalidRequest("the grant_type parameter is missing")
    app = await authenticate_client(request, form)
    if grant_type == "authorization_code":
        issued = await _authorization_code(request, form, app)
    elif grant_type == "refresh_token":
        issued = await _refresh(request, form, app)
    else:
        raise UnsupportedGrantType("the grant_type parameter must be authorization_code or refresh_token")
    body = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "refresh_token": issued.refresh_token,
        "scope": " ".join(issued.scopes),
    }
    return web.Response(text=json.dumps(body), content_type="application/json", headers=dict(NO_STORE))


async def _authorization_code(request: web.Request, form: MultiDictProxy[str], app: Application) -> IssuedTokens:
    services = request.app[SERVICES]
    store, hasher, settings = services.store, services.hasher, services.settings
    p = single_params(form, ("code", "redirect_uri", "code_verifier"))
    raw_code = p.get("code")
    if raw_code is None:
        raise InvalidRequest("the code parameter is missing")
    if not well_formed(raw_code, TokenKind.CODE):
        raise _grant_error("the code parameter is not a valid authorization code")
    code_hash = hasher.hash(raw_code)
    pending = await store.redeem_code(code_hash)
    if pending is None:
        replayed = await store.code_replay_grant(code_hash)
        if replayed:
            # RFC 6749 §4.1.2: a code used twice means it leaked; everything issued from it is withdrawn.
            await store.revoke_grant(replayed)
            log.warning("authorization code replayed; grant revoked")
            raise _grant_error("the code parameter was already used; tokens issued from it are revoked")
        raise _grant_error("the code parameter is unknown, expired or already used")
    if pending.client_id != app.client_id:
        raise _grant_error("the code parameter was issued to another client")
    if pending.expires_at < time.time():
        raise _grant_error("the code parameter has expired")
    # The code is bound to the redirect URI of its request (compared in normalized form, gateway.redirect_uri),
    # and that URI must still be the registered one (a public client's loopback URI: on any port). A request
    # that omitted it (the app has exactly one) lets the token request omit it too, or send the same one.
    presented = p.get("redirect_uri")
    if presented is None and pending.redirect_uri_given:
        raise InvalidRequest("the redirect_uri parameter is missing (the authorization request had one)")
    if not (
        (presented is None or redirect_uri_matches(pending.redirect_uri, presented))
        and redirect_uri_matches(app.redirect_uri, pending.redirect_uri, public=not app.server_side)
    ):
        raise _grant_error("the redirect_uri parameter does not match the authorization request")
    verifier = p.get("code_verifier")
    if pending.code_challenge is not None:
        if verifier is None:
            raise _grant_error("the code_verifier parameter is missing (PKCE)")
        if not pkce_matches(verifier, pending.code_challenge):
            raise _grant_error("the code_verifier parameter does not match the code challenge")
    elif verifier is not None:
        # RFC 9700 §2.1.1: a verifier without a challenge signals a PKCE downgrade attempt.
        raise _grant_error("the code_verifier parameter was sent, but the request had no code_challenge")
    elif not app.server_side:
        raise _grant_error("public clients must use PKCE")
    authorization = await store.get_authorization(pending.user_id, app.client_id)
    scopes = tuple(s for s in pending.scopes if s in app.scopes)
    if authorization is None or not set(scopes) <= set(authorization.scopes):
        # The user revoked the application between consent and this exchange.
        raise _grant_error("the authorization behind the code parameter has been revoked")
    if not scopes:
        raise InvalidScope("none of the code's scopes is still allowed for this application")
    try:
        issued = await start_grant(
            store,
            hasher,
            client_id=app.client_id,
            user_id=pending.user_id,
            scopes=scopes,
            access_ttl=settings.access_token_ttl,
            refresh_ttl=settings.refresh_token_ttl,
            require_consent=True,
        )
    except InvalidToken as exc:
        raise _grant_error("the application no longer exists") from exc
    if not await store.mark_code_grant(code_hash, issued.grant.grant_id):
        # The code was presented again while we were minting: it leaked, so nothing minted from it may live.
        await store.revoke_grant(issued.grant.grant_id)
        raise _grant_error("the code parameter was already used; tokens issued from it are revoked")
    return issued


async def _refresh(request: web.Request, form: MultiDictProxy[str], app: Application) -> IssuedTokens:
    services = request.app[SERVICES]
    store, hasher, settings = services.store, services.hasher, services.settings
    p = single_params(form, ("refresh_token", "scope"))
    raw = p.get("refresh_token")
    if raw is None:
        raise InvalidRequest("the refresh_token parameter is missing")
    if not well_formed(raw, TokenKind.REFRESH):
        raise _grant_error("the refresh_token parameter is not a valid refresh token")
    token_hash = hasher.hash(raw)

    # Look before consuming: a wrong client or a bad scope must not burn the legitimate holder's token.
    peek = await store.get_refresh_token(token_hash)
    grant = await store.get_grant(peek.grant_id) if peek is not None else None
    if peek is not None and grant is not None and grant.client_id != app.client_id:
        raise _grant_error("the refresh_token parameter was issued to another client")
    wanted = _refresh_scopes(request, p.get("scope"), app, grant.scopes) if grant is not None else None

    record, reused_grant = await store.consume_refresh_token(token_hash)
    if reused_grant is not None:
        reused = await store.get_grant(reused_grant)
        if reused is None or reused.client_id == app.client_id:
            await store.revoke_grant(reused_grant)
            log.warning("rotated refresh token presented again; grant revoked")
        raise _grant_error("the refresh_token parameter was already used; its grant is revoked")
    if record is None:
        raise _grant_error("the refresh_token parameter is unknown, expired or revoked")
    if grant is None or wanted is None or record.grant_id != grant.grant_id:
        grant = await store.get_grant(record.grant_id)
        if grant is None:
            raise _grant_error("the grant of the refresh_token parameter has been revoked")
        if grant.client_id != app.client_id:
            raise _grant_error("the refresh_token parameter was issued to another client")
        wanted = _refresh_scopes(request, p.get("scope"), app, grant.scopes)
    if record.expires_at < time.time():
        raise _grant_error("the refresh_token parameter has expired")
    epochs = await store.current_epochs_for(grant.user_id, grant.client_id)
    if epochs != (grant.app_epoch, grant.user_app_epoch, grant.user_epoch):
        await store.revoke_grant(grant.grant_id)
        raise _grant_error("the authorization behind the refresh_token parameter has been revoked")
    return await continue_grant(
        store, hasher, grant, wanted, access_ttl=settings.access_token_ttl, refresh_ttl=settings.refresh_token_ttl
    )


def _refresh_scopes(
    request: web.Request, requested: str | None, app: Application, granted: frozenset[str]
) -> tuple[str, ...]:
    """RFC 6749 §6: omitted = the grant's scopes; given = a subset of the grant and of the app's ticks now."""
    allowed = granted & set(app.scopes)
    if requested is None:
        if not allowed:
            raise InvalidScope("no scope of this grant is still allowed for this application")
        return tuple(sorted(allowed))
    settings = request.app[SERVICES].settings
    try:
        # Resolved against what this grant still allows, so an alias such as `api` means "all of the grant".
        still = tuple(s for s in settings.scopes if s in allowed)
        return resolve_scopes(requested, replace(app, scopes=still), settings)
    except OAuthError as exc:
        raise InvalidScope(
            "the scope parameter asks for more than the grant allows: " + exc.description.rpartition(": ")[2]
        ) from exc
