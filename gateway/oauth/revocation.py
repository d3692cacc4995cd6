"""Token revocation (RFC 7009). Unknown tokens get 200 (§2.2); a token of another client is left alone, also
with 200 (nothing about it is revealed). Revoking a refresh token ends its grant, and with it every access
token issued under the grant."""

from __future__ import annotations

from aiohttp import web

from gateway.errors import InvalidRequest
from gateway.httputil import NO_STORE, read_form, single_params
from gateway.keys import SERVICES
from gateway.oauth import cors
from gateway.oauth.clientauth import authenticate_client
from gateway.security import TokenKind, well_formed


async def revoke(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    store, hasher = services.store, services.hasher
    cors.vary(request)
    form = await read_form(request)
    await cors.allow_app_origin(request, form)  # before anything can fail: a browser app reads its errors too
    app = await authenticate_client(request, form)
    p = single_params(form, ("token", "token_type_hint"))
    raw = p.get("token")
    if raw is None:
        raise InvalidRequest("the token parameter is missing")
    # The kind is in the token's prefix; the hint (§2.1) is only an optimisation and is not needed.
    if well_formed(raw, TokenKind.ACCESS):
        token_hash = hasher.hash(raw)
        rec = await store.get_access_token(token_hash)
        if rec is not None and rec.client_id == app.client_id:
            await store.revoke_access_token(token_hash)
    elif well_formed(raw, TokenKind.REFRESH):
        ref = await store.get_refresh_token(hasher.hash(raw))
        grant = await store.get_grant(ref.grant_id) if ref is not None else None
        if grant is not None and grant.client_id == app.client_id:
            await store.revoke_grant(grant.grant_id)
    return web.Response(status=200, headers=dict(NO_STORE))
