"""The request path end to end against an echo upstream: what it saw, and that denied requests never reached it."""

from __future__ import annotations

import dataclasses
import time

import pytest

from gateway.models import AccessTokenRecord
from gateway.security import TokenKind, mint
from tests.proxy.helpers import bearer, issue, register_app
from tests.proxy.rawhttp import get, raw_request


@pytest.fixture
async def gw(make_gateway, echo_upstream):
    client, services = await make_gateway(echo_upstream.url)
    app = await register_app(services)
    tokens = await issue(services, app, ["events:read", "contacts:read"])
    return client, services, app, tokens, echo_upstream


# --- 1. canonicalization -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        b"/v1/events/..%2fadmin",
        b"/v1%2fevents",
        b"/v1/events/%2e%2e/contacts",
        b"/v1/./events",
        b"/v1/../v1/events",
        b"/v1/events;x=1",
        b"/v1//events",
        b"/v1/events%00",
        b"/v1/events%0d%0a",
        b"/v1\\events",
        b"/v1/a%5cb",
        b"/v1/events#frag",
        b"/v1/%252e%252e/events",
    ],
)
async def test_bypass_attempts_are_refused_with_400_and_never_forwarded(gw, target):
    client, _, _, tokens, upstream = gw
    auth = b"Authorization: Bearer " + tokens.access_token.encode()
    status, data = await raw_request(client.host, client.port, get(target, auth))
    assert status == 400, data
    assert b'"invalid_request"' in data
    assert upstream.seen == []


async def test_encoded_unreserved_characters_match_the_literal_rule(gw):
    client, _, _, tokens, upstream = gw
    status, _ = await raw_request(
        client.host, client.port, get(b"/v1/%65vents?q=%2F..", b"Authorization: Bearer " + tokens.access_token.encode())
    )
    assert status == 200
    assert upstream.last.raw_path == "/v1/events?q=%2F.."  # the canonical bytes, query untouched


async def test_match_on_path_only_never_the_query(gw):
    client, _, _, tokens, upstream = gw
    resp = await client.get("/v1/unknown?path=/v1/events", headers=bearer(tokens.access_token))
    assert resp.status == 404
    assert upstream.seen == []


# --- 2. authentication -------------------------------------------------------------------------------------


async def test_no_credentials_gets_a_bare_challenge(gw):
    client, _, _, _, upstream = gw
    resp = await client.get("/v1/events")
    assert resp.status == 401
    # RFC 9728 §5.1: the challenge names the protected resource metadata.
    assert resp.headers["WWW-Authenticate"] == (
        'Bearer realm="apptoto-demo", resource_metadata="http://127.0.0.1:8080/.well-known/oauth-protected-resource"'
    )
    assert (await resp.json())["error"] == "unauthorized"
    assert upstream.seen == []


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
async def test_bearer_scheme_is_case_insensitive(gw, scheme):
    client, _, _, tokens, _ = gw
    resp = await client.get("/v1/events", headers={"Authorization": f"{scheme} {tokens.access_token}"})
    assert resp.status == 200


async def test_tokens_in_the_query_are_not_accepted(gw):
    client, _, _, tokens, upstream = gw
    resp = await client.get(f"/v1/events?access_token={tokens.access_token}")
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_request"
    assert upstream.seen == []


async def test_tokens_in_a_form_body_are_not_accepted(gw):
    client, _, _, tokens, upstream = gw
    resp = await client.post("/v1/events", data={"access_token": tokens.access_token})
    assert resp.status == 401
    assert upstream.seen == []


@pytest.mark.parametrize(
    ("token", "status"),
    [
        ("garbage", 401),
        ("sgat_" + "0" * 49, 401),
        (mint(TokenKind.REFRESH), 401),
        (mint(TokenKind.CODE), 401),
        (mint(TokenKind.ACCESS), 401),
    ],
)
async def test_bad_tokens_are_invalid_token(gw, token, status):
    client, _, _, _, upstream = gw
    resp = await client.get("/v1/events", headers=bearer(token))
    assert resp.status == status
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    assert upstream.seen == []


async def test_a_refresh_token_is_never_a_bearer_token(gw):
    client, _, _, tokens, _ = gw
    resp = await client.get("/v1/events", headers=bearer(tokens.refresh_token))
    assert resp.status == 401


async def test_malformed_authorization_is_400(gw):
    client, _, _, tokens, upstream = gw
    for value in ["Bearer", "Bearer ", f"Bearer {tokens.access_token} extra", f"Token {tokens.access_token}"]:
        resp = await client.get("/v1/events", headers={"Authorization": value})
        assert resp.status == 400, value
        assert 'error="invalid_request"' in resp.headers["WWW-Authenticate"]
    assert upstream.seen == []


async def test_expired_token_is_rejected(gw):
    client, services, app, _, upstream = gw
    tokens = await issue(services, app, ["events:read"])
    rec = await services.store.get_access_token(services.hasher.hash(tokens.access_token))
    assert rec is not None
    now = int(time.time())
    await services.store.save_access_token(
        services.hasher.hash(tokens.access_token),
        dataclasses.replace(rec, issued_at=now - 100, expires_at=now - 1 + 5),
    )
    services.validator.clear()
    expired = AccessTokenRecord(rec.grant_id, rec.client_id, rec.user_id, rec.scopes, now - 100, now - 1)
    services.validator._tokens.put(services.hasher.hash(tokens.access_token), expired, time.time())
    resp = await client.get("/v1/events", headers=bearer(tokens.access_token))
    assert resp.status == 401
    assert "expired" in resp.headers["WWW-Authenticate"]
    assert upstream.seen == []


async def test_revoked_grant_user_app_and_deleted_app_are_rejected(gw):
    client, services, app, tokens, upstream = gw
    assert (await client.get("/v1/events", headers=bearer(tokens.access_token))).status == 200
    await services.store.revoke_grant(tokens.grant.grant_id)
    assert (await client.get("/v1/events", headers=bearer(tokens.access_token))).status == 401

    t2 = await issue(services, app, ["events:read"])
    assert (await client.get("/v1/events", headers=bearer(t2.access_token))).status == 200
    await services.store.revoke_user_app("1001", app.client_id)
    assert (await client.get("/v1/events", headers=bearer(t2.access_token))).status == 401

    t3 = await issue(services, app, ["events:read"])
    await services.store.revoke_user("1001")
    assert (await client.get("/v1/events", headers=bearer(t3.access_token))).status == 401

    t4 = await issue(services, app, ["events:read"])
    assert (await client.get("/v1/events", headers=bearer(t4.access_token))).status == 200
    await services.store.delete_app(app.client_id)
    resp = await client.get("/v1/events", headers=bearer(t4.access_token))
    assert resp.status == 401
    assert len(upstream.seen) == 3


async def test_access_token_revocation_is_immediate_even_when_cached(gw):
    client, services, _, tokens, _ = gw
    assert (await client.get("/v1/events", headers=bearer(tokens.access_token))).status == 200
    await services.store.revoke_access_token(services.hasher.hash(tokens.access_token))
    resp = await client.get("/v1/events", headers=bearer(tokens.access_token))
    assert resp.status == 401


# --- 3. authorization --------------------------------------------------------------------------------------


async def test_missing_scope_is_403_insufficient_scope(gw):
    client, _, _, tokens, upstream = gw
    resp = await client.post("/v1/events", headers=bearer(tokens.access_token), json={})
    assert resp.status == 403
    assert resp.headers["WWW-Authenticate"] == (
        'Bearer realm="apptoto-demo", resource_metadata='
        '"http://127.0.0.1:8080/.well-known/oauth-protected-resource", '
        'error="insufficient_scope", error_description="the token lacks a scope this route requires", '
        'scope="events:write"'
    )
    assert (await resp.json())["scope"] == "events:write"
    assert upstream.seen == []


async def test_scope_comparison_is_exact_and_case_sensitive(make_gateway, echo_upstream):
    client, services = await make_gateway(
        echo_upstream.url,
        scopes={"events:read": "x", "Events:Read": "y"},
        routes=[{"methods": ["GET"], "path": "/v1/events", "scope": "events:read"}],
    )
    app = await register_app(services)
    tokens = await issue(services, app, ["Events:Read"])
    assert (await client.get("/v1/events", headers=bearer(tokens.access_token))).status == 403


async def test_every_listed_scope_is_required(make_gateway, echo_upstream):
    client, services = await make_gateway(
        echo_upstream.url,
        routes=[{"methods": ["POST"], "path": "/v1/import", "scope": ["imports:write", "contacts:write"]}],
    )
    app = await register_app(services)
    one = await issue(services, app, ["imports:write"])
    both = await issue(services, app, ["imports:write", "contacts:write"])
    resp = await client.post("/v1/import", headers=bearer(one.access_token), data=b"x")
    assert resp.status == 403
    assert 'scope="imports:write contacts:write"' in resp.headers["WWW-Authenticate"]
    assert (await client.post("/v1/import", headers=bearer(both.access_token), data=b"x")).status == 200


async def test_effective_scopes_follow_the_application_ticked_scopes_now(gw):
    client, services, app, tokens, upstream = gw
    assert (await client.get("/v1/contacts", headers=bearer(tokens.access_token))).status == 200
    assert upstream.last.headers["X-Auth-Scopes"] == "contacts:read events:read"
    edited = dataclasses.replace(app, scopes=("events:read",))
    assert await services.store.update_app(edited)
    resp = await client.get("/v1/contacts", headers=bearer(tokens.access_token))
    assert resp.status == 403
    assert (await client.get("/v1/events", headers=bearer(tokens.access_token))).status == 200
    assert upstream.last.headers["X-Auth-Scopes"] == "events:read"


async def test_unmapped_routes_are_404_and_never_forwarded(gw):
    client, _, _, tokens, upstream = gw
    for method, path in [
        ("GET", "/v2/anything"),
        ("PATCH", "/v1/events"),
        ("GET", "/admin/applications"),
        ("GET", "/v1/events/"),
    ]:
        resp = await client.request(method, path, headers=bearer(tokens.access_token))
        assert resp.status == 404, (method, path)
    assert upstream.seen == []


async def test_head_is_governed_by_the_get_rule(gw):
    client, _, _, tokens, upstream = gw
    resp = await client.head("/v1/events", headers=bearer(tokens.access_token))
    assert resp.status == 200
    assert upstream.last.method == "HEAD"
    assert (await client.head("/v1/events")).status == 401


async def test_public_route_forwards_without_a_token_and_without_identity(gw):
    client, _, _, tokens, upstream = gw
    assert (await client.get("/v1/status")).status == 200
    resp = await client.get("/v1/status", headers=bearer(tokens.access_token))
    assert resp.status == 200
    assert "Authorization" not in upstream.last.headers
    assert not any(k.lower().startswith("x-auth-") for k in upstream.last.headers)


# --- Basic auth (API keys) ---------------------------------------------------------------------------------


async def test_basic_auth_passes_through_untouched_without_identity(gw):
    client, _, _, _, upstream = gw
    spoof = {"Authorization": "Basic dXNlcjphcGlrZXk=", "X-Auth-User-Id": "666"}
    resp = await client.post("/v1/events", headers=spoof, json={"events": []})
    assert resp.status == 200
    assert upstream.last.headers["Authorization"] == "Basic dXNlcjphcGlrZXk="
    assert not any(k.lower().startswith("x-auth-") for k in upstream.last.headers)


async def test_basic_auth_can_be_rejected(make_gateway, echo_upstream):
    client, _ = await make_gateway(echo_upstream.url, basic_auth="reject")
    resp = await client.get("/v1/events", headers={"Authorization": "Basic dXNlcjphcGlrZXk="})
    assert resp.status == 401
    assert echo_upstream.seen == []


# --- 5. header mutation ------------------------------------------------------------------------------------


async def test_identity_headers_replace_spoofed_ones(gw):
    client, _, app, tokens, upstream = gw
    status, _ = await raw_request(
        client.host,
        client.port,
        get(
            b"/v1/events",
            b"Authorization: Bearer " + tokens.access_token.encode(),
            b"X-Auth-User-Id: 666",
            b"x-auth-scopes: lists:write",
            b"X_Auth_Client_Id: evil",
            b"X-Auth_User_Id: 667",
            b"X-Forwarded-For: 6.6.6.6",
            b"X-Forwarded-Host: evil.example",
            b"X-Forwarded-Proto: https",
            b"Forwarded: for=6.6.6.6",
            b"X-Real-IP: 6.6.6.6",
            b"X-HTTP-Method-Override: DELETE",
            b"X-Method-Override: DELETE",
            b"X_HTTP_Method_Override: DELETE",
            b"Connection: close, X-Custom-Hop",
            b"X-Custom-Hop: 1",
            b"Keep-Alive: 5",
            b"TE: trailers",
            b"Proxy-Authorization: Basic Zm9v",
            b"X-Kept: yes",
        ),
    )
    assert status == 200
    items = upstream.last.header_items
    names = [k.lower() for k, _ in items]
    h = {k.lower(): v for k, v in items}
    assert h["x-auth-user-id"] == "1001"
    assert h["x-auth-client-id"] == app.client_id
    assert h["x-auth-scopes"] == "contacts:read events:read"
    assert names.count("x-auth-user-id") == 1
    assert not [n for n in names if n.startswith("x_auth") or n.startswith("x-auth_")]
    assert h["x-forwarded-for"] == "127.0.0.1"
    assert h["x-forwarded-host"] != "evil.example"
    assert h["x-forwarded-proto"] == "http"
    assert "forwarded" not in h and "x-real-ip" not in h
    assert not [n for n in names if "method" in n]
    for hop in ("x-custom-hop", "keep-alive", "te", "proxy-authorization", "authorization"):
        assert hop not in h, hop
    assert h["x-request-id"]
    assert h["x-kept"] == "yes"


async def test_connection_naming_an_end_to_end_header_is_refused(gw):
    """Naming an identity or framing header in Connection is no longer a way to have it removed: it is a 400."""
    client, _, _, tokens, upstream = gw
    before = len(upstream.seen)
    for named in (
        b"X-Auth-User-Id",
        b"X-Request-Id",
        b"Content-Length",
        b"Content-Encoding",
        b"Host",
        b"Authorization",
        b"Transfer-Encoding",
        b"X-Forwarded-For",
    ):
        status, _ = await raw_request(
            client.host,
            client.port,
            get(
                b"/v1/events", b"Authorization: Bearer " + tokens.access_token.encode(), b"Connection: close, " + named
            ),
        )
        assert status == 400, named
    assert len(upstream.seen) == before


async def test_forwarding_headers_of_a_trusted_proxy_are_kept_and_extended(make_gateway, echo_upstream):
    client, services = await make_gateway(echo_upstream.url, trusted_proxies=["127.0.0.0/8"])
    app = await register_app(services)
    tokens = await issue(services, app, ["events:read"])
    headers = {
        **bearer(tokens.access_token),
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Proto": "https",
        "X-Auth-User-Id": "666",
    }
    assert (await client.get("/v1/events", headers=headers)).status == 200
    h = upstream_headers = echo_upstream.last.headers
    assert h["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
    assert h["X-Forwarded-Proto"] == "https"
    assert upstream_headers["X-Auth-User-Id"] == "1001"  # identity never comes from outside, trusted or not


async def test_request_id_is_propagated_and_returned(gw):
    client, _, _, tokens, upstream = gw
    resp = await client.get("/v1/events", headers={**bearer(tokens.access_token), "X-Request-Id": "abc-123"})
    assert upstream.last.headers["X-Request-Id"] == "abc-123"
    resp = await client.get("/v1/events", headers={**bearer(tokens.access_token), "X-Request-Id": "bad id\u00e9"})
    assert upstream.last.headers["X-Request-Id"] != "bad id"
    assert len(upstream.last.headers["X-Request-Id"]) == 32
    assert resp.status == 200


async def test_signed_assertion_verifies_against_the_published_jwks(make_gateway, echo_upstream):
    import jwt

    client, services = await make_gateway(echo_upstream.url, assertion={"enabled": True, "audience": "apptoto"})
    app = await register_app(services)
    tokens = await issue(services, app, ["events:read"])
    assert (await client.get("/v1/events", headers=bearer(tokens.access_token))).status == 200
    assertion = echo_upstream.last.headers["X-Auth-Assertion"]
    jwks = await (await client.get("/.well-known/jwks.json")).json()
    key = jwt.PyJWK(jwks["keys"][0])
    claims = jwt.decode(assertion, key.key, algorithms=["ES256"], audience="apptoto", issuer=services.settings.issuer)
    assert claims["sub"] == "1001" and claims["client_id"] == app.client_id and claims["scope"] == "events:read"
    assert claims["exp"] - claims["iat"] == 60
    spoofed = {**bearer(tokens.access_token), "X-Auth-Assertion": "forged"}
    await client.get("/v1/events", headers=spoofed)
    assert echo_upstream.last.headers["X-Auth-Assertion"] != "forged"


async def test_header_bytes_that_are_not_utf8_reach_the_upstream_unchanged(gw):
    client, _, _, tokens, upstream = gw
    status, _ = await raw_request(
        client.host,
        client.port,
        get(b"/v1/events", b"Authorization: Bearer " + tokens.access_token.encode(), b"X-Latin: caf\xe9"),
    )
    assert status == 200
    assert upstream.last.headers["X-Latin"].encode("utf-8", "surrogateescape") == b"caf\xe9"
