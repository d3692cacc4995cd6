"""Issue 11 at the protocol level: public applications (no secret, PKCE), redirect URIs by kind of application,
an omitted redirect_uri, CORS on the endpoints browser apps call, RFC 9728 protected resource metadata, 405."""

from __future__ import annotations

from typing import Any

import pytest

from gateway import applications
from gateway.applications import ApplicationService
from gateway.audit import Actor
from gateway.errors import Conflict, Invalid
from gateway.redirect_uri import RedirectUriError, check_kind, parse_redirect_uri, redirect_uri_matches
from tests.oauth.helpers import (
    ISSUER,
    approve,
    authorize_params,
    basic_header,
    consent_page,
    exchange,
    get_code,
    login,
    pkce_pair,
    query_of,
    register,
    token_request,
)

ACTOR = Actor("test", "")


# --- redirect URIs by kind ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "normalized"),
    [
        ("com.example.app:/oauth2redirect", "com.example.app:/oauth2redirect"),
        ("COM.Example.App:/cb?x=1", "com.example.app:/cb?x=1"),
        ("http://127.0.0.1/cb", "http://127.0.0.1/cb"),
        ("http://[::1]:3000/cb", "http://[::1]:3000/cb"),
    ],
)
def test_native_redirect_uris_parse(uri: str, normalized: str) -> None:
    assert str(parse_redirect_uri(uri)) == normalized


@pytest.mark.parametrize(
    "uri",
    [
        "myapp:/cb",
        "javascript:/alert(1)",
        "data:/text",
        "file:/etc/passwd",
        "com.example.app://host/cb",
        "com.example.app:cb",
        "com.example.app:/c b",
        "com.example.app:/cb#frag",
        "about:blank",
        "vbscript:/x",
    ],
)
def test_unsafe_or_single_word_schemes_are_refused(uri: str) -> None:
    with pytest.raises(RedirectUriError):
        parse_redirect_uri(uri)


def test_loopback_ip_matches_any_port_for_public_clients_only() -> None:
    for registered in ("http://127.0.0.1:3000/cb", "http://127.0.0.1/cb", "http://[::1]:3000/cb"):
        host = parse_redirect_uri(registered).host
        presented = f"http://{host}:53211/cb"
        assert redirect_uri_matches(registered, presented, public=True)
        assert not redirect_uri_matches(registered, presented)  # a server-side app: exact port
        assert not redirect_uri_matches(registered, f"http://{host}:53211/cb2", public=True)  # path exactly
        assert not redirect_uri_matches(registered, f"http://{host}:53211/cb?x=1", public=True)  # query too
    # localhost keeps its exact port (RFC 8252 §8.3); another loopback address is another host.
    assert not redirect_uri_matches("http://localhost:3000/cb", "http://localhost:3001/cb", public=True)
    assert not redirect_uri_matches("http://127.0.0.1:3000/cb", "http://127.0.0.2:3000/cb", public=True)
    assert not redirect_uri_matches("https://app.example/cb", "https://app.example:444/cb", public=True)


def test_private_use_schemes_only_for_public_apps() -> None:
    check_kind(parse_redirect_uri("com.example.app:/cb"), server_side=False)
    with pytest.raises(RedirectUriError, match="Server-Side"):
        check_kind(parse_redirect_uri("com.example.app:/cb"), server_side=True)
    catalog = ["events:read"]
    with pytest.raises(Invalid) as exc:
        applications.validate_fields(
            {"name": "x", "redirect_uri": "com.example.app:/cb", "owner": "1"}, catalog, partial=False
        )
    assert "redirect_uri" in exc.value.fields
    applications.validate_fields(
        {"name": "x", "redirect_uri": "com.example.app:/cb", "owner": "1", "server_side": False}, catalog, partial=False
    )
    with pytest.raises(Invalid) as exc:  # turning Server-Side on while the URI is a private-use scheme
        applications.validate_fields(
            {"server_side": True}, catalog, partial=True, server_side=False, redirect_uri="com.example.app:/cb"
        )
    assert "server_side" in exc.value.fields


# --- the flows ------------------------------------------------------------------------------------------------


async def test_desktop_loopback_any_port_and_token_bound_to_that_port(gw: Any) -> None:
    client, services = gw
    reg = await register(services, server_side=False, redirect_uri="http://127.0.0.1:3000/cb")
    assert reg.secret == "" and await services.store.secret_hashes(reg.client_id) == []
    await login(client)
    verifier, challenge = pkce_pair()
    used = "http://127.0.0.1:51234/cb"
    code = await get_code(client, reg, redirect_uri=used, code_challenge=challenge, code_challenge_method="S256")
    bad = await exchange(client, reg, code, verifier=verifier)  # the registered port is not the one used
    assert bad.status == 400 and (await bad.json())["error"] == "invalid_grant"
    code = await get_code(client, reg, redirect_uri=used, code_challenge=challenge, code_challenge_method="S256")
    ok = await exchange(client, reg, code, verifier=verifier, redirect_uri=used)
    assert ok.status == 200, await ok.text()


async def test_server_side_loopback_keeps_its_exact_port(gw: Any) -> None:
    client, services = gw
    reg = await register(services, redirect_uri="http://127.0.0.1:3000/cb")
    await login(client)
    resp = await client.get(
        "/oauth/authorize", params=authorize_params(reg, redirect_uri="http://127.0.0.1:3001/cb"), allow_redirects=False
    )
    assert resp.status == 400 and "Location" not in resp.headers


async def test_public_client_pkce_required(gw: Any) -> None:
    client, services = gw
    reg = await register(services, server_side=False)
    await login(client)
    resp = await client.get("/oauth/authorize", params=authorize_params(reg), allow_redirects=False)
    assert resp.status == 302
    assert query_of(resp.headers["Location"])["error"] == "invalid_request"


async def test_public_client_secret_refused_everywhere(gw: Any) -> None:
    client, services = gw
    reg = await register(services, server_side=False)
    await login(client)
    verifier, challenge = pkce_pair()
    code = await get_code(client, reg, code_challenge=challenge, code_challenge_method="S256")
    sent = await client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": reg.app.redirect_uri,
            "code_verifier": verifier,
            "client_id": reg.client_id,
            "client_secret": "sgcs_anything",
        },
    )
    assert sent.status == 401 and (await sent.json())["error"] == "invalid_client"
    basic = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        headers={"Authorization": basic_header(reg.client_id, "sgcs_anything")},
    )
    assert basic.status == 401
    code = await get_code(client, reg, code_challenge=challenge, code_challenge_method="S256")
    tokens = await (await exchange(client, reg, code, verifier=verifier)).json()
    revoke = await client.post(
        "/oauth/revoke",
        data={"token": tokens["access_token"], "client_id": reg.client_id, "client_secret": "sgcs_anything"},
    )
    assert revoke.status == 401
    introspect = await token_request(client, reg, {"token": tokens["access_token"]}, path="/oauth/introspect")
    assert introspect.status == 401  # a public client cannot introspect, as before


async def test_server_side_on_issues_a_secret_off_deletes_it(gw: Any) -> None:
    client, services = gw
    reg = await register(services, server_side=False)
    service = ApplicationService(services)
    with pytest.raises(Conflict):
        await service.rotate_secret(ACTOR, reg.client_id)
    on = await service.edit(ACTOR, reg.client_id, {"server_side": True})
    assert on.client_secret is not None and on.application.client_type == "confidential"
    secret = on.client_secret
    await login(client)
    verifier, challenge = pkce_pair()
    reg.app, reg.secret = on.application, secret
    code = await get_code(client, reg, code_challenge=challenge, code_challenge_method="S256")
    assert (await exchange(client, reg, code, verifier=verifier)).status == 200
    off = await service.edit(ACTOR, reg.client_id, {"server_side": False})
    assert off.client_secret is None and await services.store.secret_hashes(reg.client_id) == []
    # The former secret is refused, with Basic or in the form.
    resp = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        headers={"Authorization": basic_header(reg.client_id, secret)},
    )
    assert resp.status == 401 and (await resp.json())["error"] == "invalid_client"


async def test_omitted_redirect_uri_at_authorize_then_token(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    location = await approve(client, await consent_page(client, reg, redirect_uri=None))
    assert location.startswith(reg.app.redirect_uri + "?")
    code = query_of(location)["code"]
    resp = await token_request(client, reg, {"grant_type": "authorization_code", "code": code})
    assert resp.status == 200, await resp.text()
    code = await get_code(client, reg, redirect_uri=None)
    resp = await exchange(client, reg, code)  # the same one: also fine
    assert resp.status == 200, await resp.text()
    code = await get_code(client, reg, redirect_uri=None)
    resp = await exchange(client, reg, code, redirect_uri="https://client.example/other")
    assert resp.status == 400
    code = await get_code(client, reg)  # given at authorize: the token request must give it too
    resp = await token_request(client, reg, {"grant_type": "authorization_code", "code": code})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
async def test_get_on_post_endpoints_is_405(gw: Any, path: str) -> None:
    client, _ = gw
    resp = await client.get(path)
    assert resp.status == 405 and resp.headers["Allow"] == "POST"
    assert (await resp.json())["error"] == "method_not_allowed"


# --- sign-in page CSP -----------------------------------------------------------------------------------------


async def test_sign_in_page_form_action_names_the_pending_redirect_uri(gw: Any) -> None:
    client, services = gw
    reg = await register(services, server_side=False, redirect_uri="http://127.0.0.1:3000/cb")
    _, challenge = pkce_pair()
    params = authorize_params(
        reg, redirect_uri="http://127.0.0.1:45678/cb", code_challenge=challenge, code_challenge_method="S256"
    )
    resp = await client.get("/oauth/authorize", params=params)  # follows to the sign-in page
    assert resp.url.path == "/oauth/login"
    assert "form-action 'self' http://127.0.0.1:45678;" in resp.headers["Content-Security-Policy"]
    mobile = await register(services, server_side=False, redirect_uri="com.example.app:/cb")
    resp = await client.get(
        "/oauth/authorize", params=authorize_params(mobile, code_challenge=challenge, code_challenge_method="S256")
    )
    assert "form-action 'self' com.example.app:;" in resp.headers["Content-Security-Policy"]
    # Not an authorization request, or an unverified one: 'self' only.
    for nxt in (
        "/account/authorized-applications",
        "/oauth/authorize?client_id=nope&redirect_uri=https://evil.example/",
    ):
        resp = await client.get("/oauth/login", params={"next": nxt})
        assert "form-action 'self';" in resp.headers["Content-Security-Policy"]


# --- CORS -----------------------------------------------------------------------------------------------------


async def test_cors_on_token_and_revoke_for_the_registered_origin_only(gw: Any) -> None:
    client, services = gw
    reg = await register(services, server_side=False, redirect_uri="http://127.0.0.2:5173/callback")
    own, foreign = "http://127.0.0.2:5173", "http://127.0.0.3:5173"
    data = {"grant_type": "refresh_token", "refresh_token": "sgrt_nope", "client_id": reg.client_id}
    for path, form in (("/oauth/token", data), ("/oauth/revoke", {"token": "x", "client_id": reg.client_id})):
        mine = await client.post(path, data=form, headers={"Origin": own})
        assert mine.headers["Access-Control-Allow-Origin"] == own
        assert "Origin" in mine.headers.getall("Vary")
        assert "Access-Control-Allow-Credentials" not in mine.headers
        theirs = await client.post(path, data=form, headers={"Origin": foreign})
        assert "Access-Control-Allow-Origin" not in theirs.headers and "Origin" in theirs.headers.getall("Vary")
        pre = await client.options(path, headers={"Origin": foreign, "Access-Control-Request-Method": "POST"})
        assert pre.status == 204 and pre.headers["Access-Control-Allow-Origin"] == foreign  # enforced on POST
        assert "POST" in pre.headers["Access-Control-Allow-Methods"]
        assert "Access-Control-Allow-Credentials" not in pre.headers
    # Metadata: any origin; pages: never.
    meta = await client.get("/.well-known/oauth-authorization-server", headers={"Origin": foreign})
    assert meta.headers["Access-Control-Allow-Origin"] == "*"
    prm = await client.get("/.well-known/oauth-protected-resource", headers={"Origin": foreign})
    assert prm.headers["Access-Control-Allow-Origin"] == "*"
    await login(client)
    for path in (
        "/oauth/login",
        "/oauth/authorize?" + "client_id=" + reg.client_id,
        "/account/authorized-applications",
        "/account/developer/applications",
    ):
        page = await client.get(path, headers={"Origin": own}, allow_redirects=False)
        assert "Access-Control-Allow-Origin" not in page.headers, path
    consent = await client.post("/oauth/consent", data={}, headers={"Origin": own})
    assert "Access-Control-Allow-Origin" not in consent.headers


# --- metadata -------------------------------------------------------------------------------------------------


async def test_protected_resource_metadata_and_challenges(gw: Any) -> None:
    client, services = gw
    doc = await (await client.get("/.well-known/oauth-protected-resource")).json()
    route_scopes = {s for r in services.settings.routes for s in r.scopes}
    assert doc["resource"] == ISSUER and doc["authorization_servers"] == [ISSUER]
    assert doc["scopes_supported"] == [s for s in services.settings.scopes if s in route_scopes]
    assert set(doc["scopes_supported"]) == route_scopes and doc["bearer_methods_supported"] == ["header"]
    url = f'resource_metadata="{ISSUER}/.well-known/oauth-protected-resource"'
    missing = await client.get("/v1/events")
    assert missing.status == 401 and url in missing.headers["WWW-Authenticate"]
    bad = await client.get("/v1/events", headers={"Authorization": "Bearer sgat_nope"})
    assert bad.status == 401 and url in bad.headers["WWW-Authenticate"]
    reg = await register(services, scopes=["events:read"])
    await login(client)
    verifier, challenge = pkce_pair()
    code = await get_code(client, reg, code_challenge=challenge, code_challenge_method="S256")
    tokens = await (await exchange(client, reg, code, verifier=verifier)).json()
    scant = await client.post("/v1/events", json={}, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert scant.status == 403 and url in scant.headers["WWW-Authenticate"]


async def test_metadata_auth_methods_are_truthful(gw: Any) -> None:
    client, _ = gw
    doc = await (await client.get("/.well-known/oauth-authorization-server")).json()
    assert doc["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post", "none"]
    assert doc["revocation_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post", "none"]
    assert "none" not in doc["introspection_endpoint_auth_methods_supported"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
