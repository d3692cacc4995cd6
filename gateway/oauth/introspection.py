"""Token introspection (RFC 7662) for the client a token was issued to. Anything not live, or not this
client's, is `{"active": false}` and nothing more (§2.2)."""

from __future__ import annotations

import json
import time

from aiohttp import web

from gateway.errors import InvalidRequest, InvalidToken
from gateway.httputil import NO_STORE, read_form, single_params
from gateway.keys import SERVICES
from gateway.oauth.clientauth import authenticate_client
from gateway.security import TokenKind, well_formed


def _json(body: dict[str, object]) -> web.Response:
    return web.Response(text=json.dumps(body), content_type="application/json", headers=dict(NO_STORE))


async def introspect(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    store, hasher = services.store, services.hasher
    form = await read_form(request)
    app = await authenticate_client(request, form, allow_public=False)
    p = single_params(form, ("token", "token_type_hint"))
    raw = p.get("token")
    if raw is None:
        raise InvalidRequest("the token parameter is missing")
    inactive = _json({"active": False})
    if well_formed(raw, TokenKind.ACCESS):
        try:
            # The same validation the gateway applies: epochs, grant, deleted app, unticked scopes.
            principal = await services.validator.validate(raw)
        except InvalidToken:
            return inactive
        if principal.client_id != app.client_id:
            return inactive
        return _json(
            {
                "active": True,
                "scope": " ".join(s for s in services.settings.scopes if s in principal.scopes),
                "client_id": principal.client_id,
                "sub": principal.user_id,
                "exp": principal.expires_at,
                "iat": principal.issued_at,
                "token_type": "Bearer",
            }
        )
    if well_formed(raw, TokenKind.REFRESH):
        ref = await store.get_refresh_token(hasher.hash(raw))
        grant = await store.get_grant(ref.grant_id) if ref is not None else None
        if ref is None or grant is None or grant.client_id != app.client_id or ref.expires_at <= time.time():
            return inactive
        epochs = await store.current_epochs_for(grant.user_id, grant.client_id)
        if epochs != (grant.app_epoch, grant.user_app_epoch, grant.user_epoch):
            return inactive
        return _json(
            {
                "active": True,
                "scope": " ".join(s for s in services.settings.scopes if s in grant.scopes and s in app.scopes),
                "client_id": grant.client_id,
                "sub": grant.user_id,
                "exp": ref.expires_at,
                "iat": grant.created_at,
                "token_type": "refresh_token",
            }
        )
    return inactive
