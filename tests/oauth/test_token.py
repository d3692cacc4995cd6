"""The token endpoint: client authentication, code binding and single use, PKCE, refresh rotation and reuse."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from gateway.models import PendingCode
from gateway.security import TokenKind, mint
from tests.oauth.helpers import (
    basic_header,
    exchange,
    full_flow,
    get_code,
    login,
    pkce_pair,
    register,
    token_request,
)


async def bearer_status(client: Any, token: str, path: str = "/v1/events") -> int:
    resp = await client.get(path, headers={"Authorization": f"Bearer {token}"})
    return int(resp.status)


async def test_code_is_single_use_and_replay_revokes_its_tokens(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    code = await get_code(client, reg, scope="events:read")
    resp = await exchange(client, reg, code)
    body = await resp.json()
    assert await bearer_status(client, body["access_token"]) == 200
    resp = await exchange(client, reg, code)
    assert resp.status == 400
    err = await resp.json()
    assert err["error"] == "invalid_grant" and "code" in err["error_description"]
    assert resp.headers["Cache-Control"] == "no-store"
    # Everything issued from the code is gone: the access token and the refresh token.
    assert await bearer_status(client, body["access_token"]) == 401
    resp = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"


async def test_concurrent_redemptions_yield_at_most_one_token_and_it_is_withdrawn(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    code = await get_code(client, reg, scope="events:read")
    results = await asyncio.gather(*(exchange(client, reg, code) for _ in range(5)))
    statuses = [r.status for r in results]
    assert statuses.count(200) <= 1 and statuses.count(400) >= 4
    for r in results:  # replayed while (or after) it was minted: nothing minted from the code may live
        if r.status == 200:
            token = (await r.json())["access_token"]
            assert (await client.get("/v1/events", headers={"Authorization": f"Bearer {token}"})).status == 401


async def test_code_bound_to_client(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    other = await register(services, name="Other")
    await login(client)
    code = await get_code(client, reg, scope="events:read")
    resp = await exchange(client, other, code)
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"


async def test_code_bound_to_redirect_uri(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    code = await get_code(client, reg, scope="events:read")
    resp = await exchange(client, reg, code, redirect_uri="https://client.example/other")
    body = await resp.json()
    assert resp.status == 400 and body["error"] == "invalid_grant" and "redirect_uri" in body["error_description"]


async def test_redirect_uri_required_at_token_endpoint(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    code = await get_code(client, reg, scope="events:read")
    resp = await token_request(client, reg, {"grant_type": "authorization_code", "code": code})
    body = await resp.json()
    assert resp.status == 400 and body["error"] == "invalid_request" and "redirect_uri" in body["error_description"]


async def test_expired_code_is_refused(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    raw = mint(TokenKind.CODE)
    await services.store.save_code(
        services.hasher.hash(raw),
        PendingCode(reg.client_id, "1001", reg.app.redirect_uri, ("events:read",), None, int(time.time()) - 1),
    )
    resp = await exchange(client, reg, raw)
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"


async def test_code_ttl_is_at_most_60_seconds(gw: Any) -> None:
    _, services = gw
    assert services.settings.code_ttl <= 60


@pytest.mark.parametrize("code", ["garbage", "sgat_" + "A" * 49, mint(TokenKind.ACCESS), mint(TokenKind.CODE)])
async def test_malformed_or_unknown_codes_are_invalid_grant(gw: Any, code: str) -> None:
    client, services = gw
    reg = await register(services)
    resp = await exchange(client, reg, code)
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"


async def test_pkce_verifier_must_match(gw: Any) -> None:
    client, services = gw
    reg = await register(services, server_side=False)
    await login(client)
    _, challenge = pkce_pair()
    wrong, _ = pkce_pair()
    code = await get_code(client, reg, code_challenge=challenge, code_challenge_method="S256")
    resp = await exchange(client, reg, code, verifier=wrong)
    body = await resp.json()
    assert resp.status == 400 and body["error"] == "invalid_grant" and "code_verifier" in body["error_description"]


async def test_pkce_verifier_required_when_challenged(gw: Any) -> None:
    client, services = gw
    reg = await register(services, server_side=False)
    await login(client)
    _, challenge = pkce_pair()
    code = await get_code(client, reg, code_challenge=challenge, code_challenge_method="S256")
    resp = await exchange(client, reg, code)
    assert resp.status == 400 and "code_verifier" in (await resp.json())["error_description"]


async def test_verifier_without_challenge_is_refused(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    code = await get_code(client, reg, scope="events:read")
    verifier, _ = pkce_pair()
    resp = await exchange(client, reg, code, verifier=verifier)
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"


async def test_server_side_client_without_secret_is_invalid_client(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    code = await get_code(client, reg, scope="events:read")
    resp = await client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": reg.app.redirect_uri,
            "client_id": reg.client_id,
        },
    )
    assert resp.status == 401
    assert (await resp.json())["error"] == "invalid_client"
    assert resp.headers["WWW-Authenticate"].startswith("Basic")


async def test_wrong_secret_is_invalid_client(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    resp = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        headers={"Authorization": basic_header(reg.client_id, "sgcs_wrong")},
    )
    assert resp.status == 401 and (await resp.json())["error"] == "invalid_client"


async def test_two_authentication_methods_are_refused(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    resp = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x", "client_secret": reg.secret},
        headers={"Authorization": basic_header(reg.client_id, reg.secret)},
    )
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"


async def test_unsupported_grant_type_and_missing_grant_type(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    resp = await token_request(client, reg, {"grant_type": "password"})
    body = await resp.json()
    assert resp.status == 400 and body["error"] == "unsupported_grant_type"
    resp = await token_request(client, reg, {})
    body = await resp.json()
    assert resp.status == 400 and body["error"] == "invalid_request" and "grant_type" in body["error_description"]


async def test_token_endpoint_requires_form_encoding(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    resp = await client.post(
        "/oauth/token",
        json={"grant_type": "authorization_code"},
        headers={"Authorization": basic_header(reg.client_id, reg.secret)},
    )
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"


async def test_failed_client_auth_is_throttled_per_address_not_per_client(
    make_gateway: Any, echo_upstream: Any
) -> None:
    from tests.oauth.helpers import STATIC_LOGIN

    client, services = await make_gateway(
        echo_upstream.url,
        login=STATIC_LOGIN,
        trusted_proxies=["127.0.0.1/32"],
        client_auth={"max_failures": 3, "window": 60},
    )
    reg = await register(services)
    bad = {"Authorization": basic_header(reg.client_id, "sgcs_wrong"), "X-Forwarded-For": "203.0.113.5"}
    for _ in range(3):
        resp = await client.post(
            "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x"}, headers=bad
        )
        assert resp.status == 401
    resp = await client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x"}, headers=bad)
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) >= 1
    assert (await resp.json())["error"] == "invalid_request"
    # That address is refused whatever it sends while the window lasts; the client itself, elsewhere, is not.
    resp = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        headers={**bad, "Authorization": basic_header(reg.client_id, reg.secret)},
    )
    assert resp.status == 429
    resp = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        headers={"Authorization": basic_header(reg.client_id, reg.secret), "X-Forwarded-For": "198.51.100.7"},
    )
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"


async def test_failed_client_auth_is_throttled_per_address(make_gateway: Any, echo_upstream: Any) -> None:
    from tests.oauth.helpers import STATIC_LOGIN

    client, services = await make_gateway(
        echo_upstream.url, login=STATIC_LOGIN, client_auth={"max_failures": 3, "window": 60}
    )
    regs = [await register(services, name=f"App {i}") for i in range(4)]
    for reg in regs[:3]:
        resp = await client.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": "x"},
            headers={"Authorization": basic_header(reg.client_id, "sgcs_wrong")},
        )
        assert resp.status == 401
    resp = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        headers={"Authorization": basic_header(regs[3].client_id, "sgcs_wrong")},
    )
    assert resp.status == 429


async def test_refresh_token_reuse_revokes_the_grant(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    first = await full_flow(client, reg, scope="events:read")
    resp = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    second = await resp.json()
    assert await bearer_status(client, second["access_token"]) == 200
    # The old refresh token again: reuse detected, the whole grant ends.
    resp = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"
    assert await bearer_status(client, second["access_token"]) == 401
    assert await bearer_status(client, first["access_token"]) == 401
    resp = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]})
    assert resp.status == 400


async def test_refresh_may_narrow_but_not_widen(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    first = await full_flow(client, reg, scope="events:read contacts:read")
    resp = await token_request(
        client, reg, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "scope": "events:read"}
    )
    narrowed = await resp.json()
    assert narrowed["scope"] == "events:read"
    assert await bearer_status(client, narrowed["access_token"], "/v1/contacts") == 403
    resp = await token_request(
        client,
        reg,
        {
            "grant_type": "refresh_token",
            "refresh_token": narrowed["refresh_token"],
            "scope": "events:read messaging:send",
        },
    )
    body = await resp.json()
    assert resp.status == 400 and body["error"] == "invalid_scope" and "messaging:send" in body["error_description"]
    # The failed widening did not burn the refresh token; and the grant still covers its original scopes.
    resp = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": narrowed["refresh_token"]})
    assert resp.status == 200
    assert (await resp.json())["scope"] == "contacts:read events:read"


async def test_refresh_never_wider_than_the_apps_ticked_scopes_now(gw: Any) -> None:
    from gateway import applications

    client, services = gw
    reg = await register(services, scopes=["events:read", "contacts:read"])
    await login(client)
    first = await full_flow(client, reg)
    await applications.edit(services.store, list(services.settings.scopes), reg.client_id, {"scopes": ["events:read"]})
    resp = await token_request(
        client, reg, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "scope": "contacts:read"}
    )
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_scope"
    resp = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert resp.status == 200 and (await resp.json())["scope"] == "events:read"


async def test_refresh_with_alias_means_all_of_the_grant(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    first = await full_flow(client, reg, scope="events:read")
    resp = await token_request(
        client, reg, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "scope": "api"}
    )
    assert resp.status == 200 and (await resp.json())["scope"] == "events:read"


async def test_refresh_by_another_client_fails_without_burning_the_token(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    other = await register(services, name="Other")
    await login(client)
    first = await full_flow(client, reg, scope="events:read")
    resp = await token_request(client, other, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"
    resp = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert resp.status == 200


async def test_refresh_after_user_revoked_the_app_fails(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    first = await full_flow(client, reg, scope="events:read")
    await services.store.revoke_user_app("1001", reg.client_id)
    resp = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"


async def test_refresh_after_client_bulk_revocation_fails(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    first = await full_flow(client, reg, scope="events:read")
    await services.store.revoke_client(reg.client_id)
    resp = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"


async def test_code_after_user_revoked_the_app_fails(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    code = await get_code(client, reg, scope="events:read")
    await services.store.revoke_user_app("1001", reg.client_id)
    resp = await exchange(client, reg, code)
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"


async def test_refresh_and_code_are_never_bearer_tokens(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    code = await get_code(client, reg, scope="events:read")
    assert await bearer_status(client, code) == 401
    body = await (await exchange(client, reg, code)).json()
    assert await bearer_status(client, body["refresh_token"]) == 401


async def test_public_client_refresh_needs_no_secret(gw: Any) -> None:
    client, services = gw
    reg = await register(services, server_side=False)
    await login(client)
    first = await full_flow(client, reg)
    resp = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert resp.status == 200
