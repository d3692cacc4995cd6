"""RFC 8414 metadata, from public_url only."""

from __future__ import annotations

from typing import Any


async def test_metadata_comes_from_public_url_not_host(gw: Any) -> None:
    client, _ = gw
    resp = await client.get("/.well-known/oauth-authorization-server", headers={"Host": "evil.example"})
    assert resp.status == 200
    meta = await resp.json()
    base = "http://127.0.0.1:8080"
    assert meta["issuer"] == base
    assert meta["authorization_endpoint"] == base + "/oauth/authorize"
    assert meta["token_endpoint"] == base + "/oauth/token"
    assert meta["revocation_endpoint"] == base + "/oauth/revoke"
    assert meta["introspection_endpoint"] == base + "/oauth/introspect"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["response_types_supported"] == ["code"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert "events:read" in meta["scopes_supported"]
    assert "evil.example" not in await resp.text()


async def test_metadata_follows_configured_public_url(make_gateway: Any, echo_upstream: Any) -> None:
    from tests.oauth.helpers import STATIC_LOGIN

    client, _ = await make_gateway(echo_upstream.url, login=STATIC_LOGIN, public_url="https://auth.apptoto.example")
    meta = await (await client.get("/.well-known/oauth-authorization-server")).json()
    assert meta["issuer"] == "https://auth.apptoto.example"
    assert meta["token_endpoint"] == "https://auth.apptoto.example/oauth/token"
