from __future__ import annotations

from gateway import applications
from gateway.issuance import start_grant


async def test_allowed_request_reaches_upstream_with_identity(make_gateway, echo_upstream):
    client, services = await make_gateway(echo_upstream.url)
    reg = await applications.register(
        services.store,
        services.hasher,
        list(services.settings.scopes),
        {"name": "App", "redirect_uri": "https://app.example/cb", "owner": "1001"},
    )
    issued = await start_grant(
        services.store,
        services.hasher,
        client_id=reg.application.client_id,
        user_id="1001",
        scopes=["events:read"],
        access_ttl=3600,
        refresh_ttl=86400,
    )
    resp = await client.get("/v1/events?x=1", headers={"Authorization": f"Bearer {issued.access_token}"})
    assert resp.status == 200, await resp.text()
    seen = echo_upstream.last
    assert seen.raw_path == "/v1/events?x=1"
    assert seen.headers["X-Auth-User-Id"] == "1001"
    assert seen.headers["X-Auth-Scopes"] == "events:read"
    assert "Authorization" not in seen.headers
    resp = await client.get("/v1/contacts", headers={"Authorization": f"Bearer {issued.access_token}"})
    assert resp.status == 403
    assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]
