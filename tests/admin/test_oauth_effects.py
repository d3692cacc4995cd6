"""Admin changes seen from the authorization server: rotated and deleted secrets, codes and refresh tokens."""

from __future__ import annotations

import time

from gateway.models import Authorization, PendingCode
from gateway.security import TokenKind, mint
from tests.admin.conftest import AUTH

REDIRECT = "https://acme.example/oauth/callback"


async def _code(env, client_id: str, redirect_uri: str = REDIRECT) -> str:
    raw = mint(TokenKind.CODE)
    pending = PendingCode(client_id, "1001", redirect_uri, ("events:read",), None, int(time.time()) + 60)
    await env.services.store.save_code(env.services.hasher.hash(raw), pending)
    # The user consented (the authorization server checks the consent still stands at redemption).
    await env.services.store.record_authorization(Authorization("1001", client_id, ("events:read",), time.time()))
    return raw


async def _redeem(env, client_id: str, secret: str, code: str, redirect_uri: str = REDIRECT):
    return await env.public.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "client_secret": secret,
        },
    )


async def test_code_and_secret_work_before_any_change(env):
    created = await env.create()
    resp = await _redeem(env, created["client_id"], created["client_secret"], await _code(env, created["client_id"]))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (await env.call(body["access_token"])).status == 200


async def test_changed_redirect_uri_invalidates_codes_for_the_old_one(env):
    created = await env.create()
    cid, secret = created["client_id"], created["client_secret"]
    code = await _code(env, cid)
    resp = await env.admin.patch(
        f"/admin/applications/{cid}", json={"redirect_uri": "https://new.example/cb"}, headers=AUTH
    )
    assert resp.status == 200
    resp = await _redeem(env, cid, secret, code)
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_grant"


async def test_rotated_secret_stops_authenticating_and_new_one_works(env):
    created = await env.create()
    cid, old = created["client_id"], created["client_secret"]
    new = (await (await env.admin.post(f"/admin/applications/{cid}/secret", headers=AUTH)).json())["client_secret"]
    resp = await _redeem(env, cid, old, await _code(env, cid))
    assert resp.status == 401
    assert (await resp.json())["error"] == "invalid_client"
    resp = await _redeem(env, cid, new, await _code(env, cid))
    assert resp.status == 200, await resp.text()


async def test_after_delete_secret_code_and_refresh_token_are_all_dead(env):
    created = await env.create()
    cid, secret = created["client_id"], created["client_secret"]
    resp = await _redeem(env, cid, secret, await _code(env, cid))
    tokens = await resp.json()
    pending_code = await _code(env, cid)
    resp = await env.admin.delete(f"/admin/applications/{cid}", headers=AUTH)
    assert resp.status == 200
    resp = await _redeem(env, cid, secret, pending_code)
    assert resp.status == 401
    assert (await resp.json())["error"] == "invalid_client"
    resp = await env.public.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": cid,
            "client_secret": secret,
        },
    )
    assert resp.status in (400, 401)
    assert (await resp.json())["error"] in ("invalid_client", "invalid_grant")
    assert (await env.call(tokens["access_token"])).status == 401
