"""RFC 7009 revocation and RFC 7662 introspection semantics."""

from __future__ import annotations

from typing import Any

from gateway.security import TokenKind, mint
from tests.oauth.helpers import basic_header, full_flow, login, register, token_request


async def status(client: Any, token: str) -> int:
    return int((await client.get("/v1/events", headers={"Authorization": f"Bearer {token}"})).status)


async def test_revoke_access_token(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    body = await full_flow(client, reg, scope="events:read")
    assert await status(client, body["access_token"]) == 200
    resp = await token_request(client, reg, {"token": body["access_token"]}, path="/oauth/revoke")
    assert resp.status == 200
    assert await status(client, body["access_token"]) == 401
    # The refresh token lives on (RFC 7009 §2.1: revoking an access token need not end the grant).
    resp = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert resp.status == 200


async def test_revoke_refresh_token_ends_the_grants_access_tokens(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    body = await full_flow(client, reg, scope="events:read")
    resp = await token_request(
        client, reg, {"token": body["refresh_token"], "token_type_hint": "refresh_token"}, path="/oauth/revoke"
    )
    assert resp.status == 200
    assert await status(client, body["access_token"]) == 401
    resp = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert resp.status == 400


async def test_revoke_unknown_or_garbage_token_is_200(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    for token in ("garbage", mint(TokenKind.ACCESS), mint(TokenKind.REFRESH), mint(TokenKind.CODE)):
        resp = await token_request(client, reg, {"token": token}, path="/oauth/revoke")
        assert resp.status == 200


async def test_client_cannot_revoke_another_clients_token(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    other = await register(services, name="Other")
    await login(client)
    body = await full_flow(client, reg, scope="events:read")
    for token in (body["access_token"], body["refresh_token"]):
        resp = await token_request(client, other, {"token": token}, path="/oauth/revoke")
        assert resp.status == 200
    assert await status(client, body["access_token"]) == 200
    resp = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert resp.status == 200


async def test_revoke_requires_client_authentication_and_token(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    resp = await client.post("/oauth/revoke", data={"token": "x"})
    assert resp.status == 401 and (await resp.json())["error"] == "invalid_client"
    resp = await client.post(
        "/oauth/revoke", data={"token": "x"}, headers={"Authorization": basic_header(reg.client_id, "sgcs_bad")}
    )
    assert resp.status == 401
    resp = await token_request(client, reg, {}, path="/oauth/revoke")
    body = await resp.json()
    assert resp.status == 400 and body["error"] == "invalid_request" and "token" in body["error_description"]


async def test_public_client_can_revoke_its_token(gw: Any) -> None:
    client, services = gw
    reg = await register(services, server_side=False)
    await login(client)
    body = await full_flow(client, reg)
    resp = await token_request(client, reg, {"token": body["refresh_token"]}, path="/oauth/revoke")
    assert resp.status == 200
    assert await status(client, body["access_token"]) == 401


async def test_introspect_active_access_token(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    body = await full_flow(client, reg, scope="events:read contacts:read")
    resp = await token_request(client, reg, {"token": body["access_token"]}, path="/oauth/introspect")
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    info = await resp.json()
    assert info["active"] is True
    assert info["scope"] == "contacts:read events:read"
    assert info["client_id"] == reg.client_id and info["sub"] == "1001"
    assert info["token_type"] == "Bearer"
    assert info["exp"] - info["iat"] == services.settings.access_token_ttl


async def test_introspect_refresh_token(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    body = await full_flow(client, reg, scope="events:read")
    info = await (await token_request(client, reg, {"token": body["refresh_token"]}, path="/oauth/introspect")).json()
    assert info["active"] is True and info["scope"] == "events:read" and info["sub"] == "1001"


async def test_introspect_inactive_is_only_active_false(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    other = await register(services, name="Other")
    await login(client)
    body = await full_flow(client, reg, scope="events:read")
    await token_request(client, reg, {"token": body["access_token"]}, path="/oauth/revoke")
    revoked = await token_request(client, reg, {"token": body["access_token"]}, path="/oauth/introspect")
    assert await revoked.json() == {"active": False}
    fresh = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    new = await fresh.json()
    for token in ("garbage", mint(TokenKind.ACCESS), body["refresh_token"]):
        resp = await token_request(client, reg, {"token": token}, path="/oauth/introspect")
        assert await resp.json() == {"active": False}
    # Another client learns nothing about this client's tokens.
    resp = await token_request(client, other, {"token": new["access_token"]}, path="/oauth/introspect")
    assert await resp.json() == {"active": False}
    # After the user revokes the application, its tokens are inactive.
    await services.store.revoke_user_app("1001", reg.client_id)
    resp = await token_request(client, reg, {"token": new["access_token"]}, path="/oauth/introspect")
    assert await resp.json() == {"active": False}
    resp = await token_request(client, reg, {"token": new["refresh_token"]}, path="/oauth/introspect")
    assert await resp.json() == {"active": False}


async def test_introspect_reflects_unticked_scopes(gw: Any) -> None:
    from gateway import applications

    client, services = gw
    reg = await register(services, scopes=["events:read", "contacts:read"])
    await login(client)
    body = await full_flow(client, reg)
    await applications.edit(services.store, list(services.settings.scopes), reg.client_id, {"scopes": ["events:read"]})
    info = await (await token_request(client, reg, {"token": body["access_token"]}, path="/oauth/introspect")).json()
    assert info["scope"] == "events:read"


async def test_introspect_requires_client_secret(gw: Any) -> None:
    client, services = gw
    public = await register(services, server_side=False)
    await login(client)
    body = await full_flow(client, public)
    resp = await client.post("/oauth/introspect", data={"token": body["access_token"], "client_id": public.client_id})
    assert resp.status == 401 and (await resp.json())["error"] == "invalid_client"
    resp = await client.post("/oauth/introspect", data={"token": body["access_token"]})
    assert resp.status == 401
