"""The authorization-code flow end to end with a real OAuth client library (Authlib) against real `scopegate serve`
processes on a real Redis: a server-side application with its secret, a public one with PKCE S256; then the token
at the proxy for exactly its scopes, refresh rotation, revocation; and no raw secret left in Redis or the logs."""

from __future__ import annotations

import re
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.harness import GatewayProcess, redis_dump

REDIRECT = "http://127.0.0.1:9/callback"  # never contacted: the user agent below stops at the redirect


def register(gw: GatewayProcess, *, server_side: bool, scopes: list[str]) -> dict[str, Any]:
    resp = requests.post(
        gw.admin_url + "/admin/applications",
        headers=gw.admin_headers,
        timeout=5,
        json={
            "name": "Authlib Client",
            "redirect_uri": REDIRECT,
            "owner": "1001",
            "scopes": scopes,
            "server_side": server_side,
            "published": True,
        },
    )
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def user_agent_approves(authorize_url: str) -> str:
    """What the user's browser does: log in (demo/demo), approve; returns the redirect back to the application."""
    browser = requests.Session()
    resp = browser.get(authorize_url, timeout=5)  # -> 303 to the login form, followed
    assert resp.status_code == 200 and "/oauth/login" in resp.url, resp.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', resp.text)
    nxt = re.search(r'name="next" value="([^"]+)"', resp.text)
    assert csrf and nxt
    resp = browser.post(
        resp.url.split("?")[0],
        timeout=5,
        allow_redirects=False,
        data={
            "username": "demo",
            "password": "demo",
            "csrf": csrf.group(1),
            "next": nxt.group(1).replace("&amp;", "&"),
        },
    )
    assert resp.status_code == 303, resp.text
    base = authorize_url.split("/oauth/")[0]
    resp = browser.get(base + resp.headers["Location"], allow_redirects=False, timeout=5)
    if resp.status_code == 302:  # already authorized for these scopes: no consent page
        skipped: str = resp.headers["Location"]
        assert skipped.startswith(REDIRECT + "?")
        return skipped
    assert resp.status_code == 200 and 'value="approve"' in resp.text, resp.text
    assert resp.headers["X-Frame-Options"] == "DENY"
    rid = re.search(r'name="request_id" value="([^"]+)"', resp.text)
    csrf = re.search(r'name="csrf" value="([^"]+)"', resp.text)
    assert rid and csrf
    resp = browser.post(
        base + "/oauth/consent",
        allow_redirects=False,
        timeout=5,
        data={"request_id": rid.group(1), "csrf": csrf.group(1), "decision": "approve"},
    )
    assert resp.status_code == 303, resp.text
    location: str = resp.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return location


def call(gw: GatewayProcess, method: str, path: str, token: str) -> requests.Response:
    return requests.request(
        method,
        gw.url + path,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
        json={} if method != "GET" else None,
    )


def test_server_side_app_with_secret(stack: GatewayProcess, redis_url: str) -> None:
    app = register(stack, server_side=True, scopes=["events:read", "contacts:read", "events:write"])
    meta = requests.get(stack.url + "/.well-known/oauth-authorization-server", timeout=5).json()
    client = OAuth2Session(
        app["client_id"],
        app["client_secret"],
        scope="events:read contacts:read",
        redirect_uri=REDIRECT,
        token_endpoint_auth_method="client_secret_basic",
    )
    url, state = client.create_authorization_url(meta["authorization_endpoint"])
    callback = user_agent_approves(url)
    assert f"iss={requests.utils.quote(stack.url, safe='')}" in callback
    token = client.fetch_token(meta["token_endpoint"], authorization_response=callback, state=state)
    assert token["token_type"] == "Bearer" and token["scope"] == "contacts:read events:read"

    assert call(stack, "GET", "/v1/events", token["access_token"]).status_code == 200
    assert call(stack, "GET", "/v1/contacts", token["access_token"]).status_code == 200
    denied = call(stack, "POST", "/v1/events", token["access_token"])
    assert denied.status_code == 403 and 'error="insufficient_scope"' in denied.headers["WWW-Authenticate"]
    assert call(stack, "GET", "/v1/conversations", token["access_token"]).status_code == 403

    first = dict(token)
    refreshed = client.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != first["refresh_token"]
    assert call(stack, "GET", "/v1/events", refreshed["access_token"]).status_code == 200

    info = requests.post(
        meta["introspection_endpoint"],
        auth=(app["client_id"], app["client_secret"]),
        data={"token": refreshed["access_token"]},
        timeout=5,
    ).json()
    assert info["active"] is True and info["sub"] == "1001" and info["client_id"] == app["client_id"]

    # Reusing the rotated refresh token revokes the grant: the current access token dies too.
    reuse = requests.post(
        meta["token_endpoint"],
        auth=(app["client_id"], app["client_secret"]),
        timeout=5,
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert call(stack, "GET", "/v1/events", refreshed["access_token"]).status_code == 401

    raw = [
        first["access_token"],
        first["refresh_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
        app["client_secret"],
        re.search(r"code=([^&]+)", callback).group(1),
    ]  # type: ignore[union-attr]
    dump, logs = redis_dump(redis_url), stack.logs()
    for value in raw:
        assert value not in dump and value not in logs


def test_public_app_with_pkce(stack: GatewayProcess, redis_url: str) -> None:
    app = register(stack, server_side=False, scopes=["contacts:read", "contacts:write"])
    meta = requests.get(stack.url + "/.well-known/oauth-authorization-server", timeout=5).json()
    client = OAuth2Session(
        app["client_id"],
        scope="api",
        redirect_uri=REDIRECT,
        token_endpoint_auth_method="none",
        code_challenge_method="S256",
    )
    verifier = generate_token(64)
    url, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
    assert "code_challenge_method=S256" in url
    callback = user_agent_approves(url)
    token = client.fetch_token(
        meta["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
    )
    assert token["scope"] == "contacts:read contacts:write"
    assert call(stack, "GET", "/v1/contacts", token["access_token"]).status_code == 200
    assert call(stack, "POST", "/v1/contacts", token["access_token"]).status_code == 200
    assert call(stack, "GET", "/v1/events", token["access_token"]).status_code == 403

    # Without the verifier the code is useless, even to the right client.
    url, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
    callback = user_agent_approves(url)
    code = re.search(r"code=([^&]+)", callback).group(1)  # type: ignore[union-attr]
    bare = requests.post(
        meta["token_endpoint"],
        timeout=5,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": app["client_id"],
        },
    )
    assert bare.status_code == 400 and bare.json()["error"] == "invalid_grant"

    # Revoking the refresh token ends the grant's access token at the gateway.
    client.revoke_token(meta["revocation_endpoint"], token=token["refresh_token"], token_type_hint="refresh_token")
    assert call(stack, "GET", "/v1/contacts", token["access_token"]).status_code == 401

    dump, logs = redis_dump(redis_url), stack.logs()
    assert "client_secret" not in app  # a public application has no secret
    for value in (token["access_token"], token["refresh_token"], code, verifier):
        assert value not in dump and value not in logs
