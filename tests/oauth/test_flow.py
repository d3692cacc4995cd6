"""The happy path end to end inside one process, and what the token is good for at the proxy."""

from __future__ import annotations

from typing import Any

from tests.oauth.helpers import (
    ISSUER,
    approve,
    consent_page,
    exchange,
    full_flow,
    get_code,
    login,
    pkce_pair,
    query_of,
    register,
    token_request,
)


async def test_server_side_flow_token_works_for_exactly_its_scopes(gw: Any, echo_upstream: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    html = await consent_page(client, reg, scope="events:read calendars:read")
    assert "Calendar Sync" in html
    assert "View your calendar events" in html and "View your calendars" in html
    assert 'name="decision" value="approve"' in html and 'name="decision" value="deny"' in html
    location = await approve(client, html)
    assert location.startswith("https://client.example/cb?")
    q = query_of(location)
    assert q["state"] == "st-123" and q["iss"] == ISSUER
    resp = await exchange(client, reg, q["code"])
    assert resp.status == 200, await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == services.settings.access_token_ttl
    assert body["scope"] == "calendars:read events:read"
    assert body["access_token"].startswith("sgat_") and body["refresh_token"].startswith("sgrt_")

    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    resp = await client.get("/v1/events", headers=bearer)
    assert resp.status == 200
    assert echo_upstream.last.headers["X-Auth-User-Id"] == "1001"
    assert (await client.get("/v1/calendars", headers=bearer)).status == 200
    resp = await client.get("/v1/contacts", headers=bearer)
    assert resp.status == 403
    assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]
    resp = await client.post("/v1/events", headers=bearer)
    assert resp.status == 403


async def test_public_client_flow_with_pkce(gw: Any) -> None:
    client, services = gw
    reg = await register(services, server_side=False, scopes=["contacts:read", "contacts:write"])
    await login(client)
    body = await full_flow(client, reg)
    assert body["scope"] == "contacts:read contacts:write"
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await client.get("/v1/contacts", headers=bearer)).status == 200
    assert (await client.get("/v1/events", headers=bearer)).status == 403


async def test_client_secret_post_is_accepted(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    code = await get_code(client, reg, scope="events:read")
    resp = await exchange(client, reg, code, basic=False)
    assert resp.status == 200, await resp.text()


async def test_scope_alias_api_means_every_ticked_scope(gw: Any) -> None:
    client, services = gw
    reg = await register(services, scopes=["events:read", "lists:read"])
    await login(client)
    body = await full_flow(client, reg, scope="api")
    assert body["scope"] == "events:read lists:read"


async def test_omitted_scope_means_ticked_scopes(gw: Any) -> None:
    client, services = gw
    reg = await register(services, scopes=["imports:read"])
    await login(client)
    body = await full_flow(client, reg)
    assert body["scope"] == "imports:read"


async def test_reauthorization_of_granted_scopes_skips_consent(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    await full_flow(client, reg, scope="events:read events:write")
    verifier, challenge = pkce_pair()
    resp = await client.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": reg.client_id,
            "redirect_uri": reg.app.redirect_uri,
            "scope": "events:read",
            "state": "again",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
    )
    assert resp.status == 302
    q = query_of(resp.headers["Location"])
    assert q["state"] == "again"
    resp = await exchange(client, reg, q["code"], verifier=verifier)
    assert (await resp.json())["scope"] == "events:read"
    # A wider request asks again, and the authorization becomes the union.
    html = await consent_page(client, reg, scope="contacts:read")
    await approve(client, html)
    auth = await services.store.get_authorization("1001", reg.client_id)
    assert auth is not None and set(auth.scopes) == {"events:read", "events:write", "contacts:read"}


async def test_consent_records_authorization_and_audit(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    await full_flow(client, reg, scope="events:read")
    auth = await services.store.get_authorization("1001", reg.client_id)
    assert auth is not None and auth.scopes == ("events:read",)
    events = await services.store.read_audit()
    assert any(e.get("action") == "authorization.granted" and e.get("client_id") == reg.client_id for e in events)


async def test_refresh_rotates_and_new_tokens_work(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    first = await full_flow(client, reg, scope="events:read contacts:read")
    resp = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert resp.status == 200, await resp.text()
    second = await resp.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == "contacts:read events:read"
    assert resp.headers["Cache-Control"] == "no-store"
    bearer = {"Authorization": f"Bearer {second['access_token']}"}
    assert (await client.get("/v1/contacts", headers=bearer)).status == 200
