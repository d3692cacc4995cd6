"""The authorization endpoint: error page vs error redirect, exact redirect URI, state and iss, scopes, PKCE."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.oauth.helpers import ISSUER, authorize_params, consent_page, login, pkce_pair, query_of, register

PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


def assert_page_headers(resp: Any) -> None:
    for k, v in PAGE_HEADERS.items():
        assert resp.headers[k] == v, k
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://client.example/cb/",  # trailing slash
        "https://client.example/cb?x=1",  # extra query
        "https://client.example:8443/cb",  # another port
        "http://client.example/cb",  # another scheme
        # (Host case and a default port are the same URI after RFC 3986 normalisation: see test_redirect_uri_pages.py.)
        "https://client.example/c",  # prefix
        "https://evil.example/cb",
        "https://client.example/cb#frag",
    ],
)
async def test_redirect_uri_must_match_exactly_else_error_page(gw: Any, redirect_uri: str) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    resp = await client.get(
        "/oauth/authorize", params=authorize_params(reg, redirect_uri=redirect_uri), allow_redirects=False
    )
    assert resp.status == 400
    assert "Location" not in resp.headers
    assert resp.content_type == "text/html"
    assert "redirect_uri" in await resp.text()
    assert_page_headers(resp)


async def test_missing_redirect_uri_means_the_one_registered(gw: Any) -> None:
    """RFC 6749 §3.1.2.3: an application has exactly one redirect URI, so the request may omit it (the flow goes on
    to sign-in; the code lands at the registered URI: tests/oauth/test_public_clients.py)."""
    client, services = gw
    reg = await register(services)
    resp = await client.get("/oauth/authorize", params=authorize_params(reg, redirect_uri=None), allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/oauth/login?")


@pytest.mark.parametrize("client_id", [None, "nosuchclient", "x" * 500])
async def test_unknown_client_is_an_error_page_never_a_redirect(gw: Any, client_id: str | None) -> None:
    client, services = gw
    reg = await register(services)
    resp = await client.get(
        "/oauth/authorize", params=authorize_params(reg, client_id=client_id), allow_redirects=False
    )
    assert resp.status == 400
    assert "Location" not in resp.headers
    assert "client_id" in await resp.text()


async def test_repeated_client_id_is_an_error_page(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    qs = f"response_type=code&client_id={reg.client_id}&client_id={reg.client_id}&redirect_uri={reg.app.redirect_uri}"
    resp = await client.get("/oauth/authorize?" + qs, allow_redirects=False)
    assert resp.status == 400 and "Location" not in resp.headers


@pytest.mark.parametrize(
    ("extra", "error", "mentions"),
    [
        ({"response_type": "token"}, "unsupported_response_type", "response_type"),
        ({"response_type": None}, "invalid_request", "response_type"),
        ({"scope": "events:read nosuch:scope"}, "invalid_scope", "nosuch:scope"),
        ({"scope": "events:read  contacts:read"}, "invalid_scope", "scope"),
        ({"code_challenge": "a" * 43, "code_challenge_method": "plain"}, "invalid_request", "code_challenge_method"),
        ({"code_challenge": "a" * 43}, "invalid_request", "code_challenge_method"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request", "code_challenge"),
        ({"code_challenge_method": "S256"}, "invalid_request", "code_challenge"),
    ],
)
async def test_other_errors_redirect_with_error_state_and_iss(
    gw: Any, extra: dict[str, str | None], error: str, mentions: str
) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    resp = await client.get("/oauth/authorize", params=authorize_params(reg, **extra), allow_redirects=False)
    assert resp.status == 302, await resp.text()
    location = resp.headers["Location"]
    assert location.startswith(reg.app.redirect_uri + "?")
    q = query_of(location)
    assert q["error"] == error
    assert mentions in q["error_description"]
    assert q["state"] == "st-123"
    assert q["iss"] == ISSUER


async def test_error_redirect_without_state_has_no_state(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    resp = await client.get(
        "/oauth/authorize", params=authorize_params(reg, state=None, response_type="token"), allow_redirects=False
    )
    q = query_of(resp.headers["Location"])
    assert "state" not in q and q["iss"] == ISSUER


async def test_scope_not_ticked_on_the_app_is_rejected_not_dropped(gw: Any) -> None:
    client, services = gw
    reg = await register(services, scopes=["events:read"])
    await login(client)
    resp = await client.get(
        "/oauth/authorize", params=authorize_params(reg, scope="events:read contacts:read"), allow_redirects=False
    )
    q = query_of(resp.headers["Location"])
    assert q["error"] == "invalid_scope" and "contacts:read" in q["error_description"]


async def test_list_alias_with_unticked_scope_is_rejected(make_gateway: Any, echo_upstream: Any) -> None:
    from tests.oauth.helpers import STATIC_LOGIN

    client, services = await make_gateway(
        echo_upstream.url, login=STATIC_LOGIN, scope_aliases={"api": "*", "read": ["events:read", "contacts:read"]}
    )
    reg = await register(services, scopes=["events:read"])
    await login(client)
    resp = await client.get("/oauth/authorize", params=authorize_params(reg, scope="read"), allow_redirects=False)
    assert query_of(resp.headers["Location"])["error"] == "invalid_scope"


async def test_public_client_without_pkce_is_refused(gw: Any) -> None:
    client, services = gw
    reg = await register(services, server_side=False)
    await login(client)
    resp = await client.get("/oauth/authorize", params=authorize_params(reg), allow_redirects=False)
    q = query_of(resp.headers["Location"])
    assert q["error"] == "invalid_request" and "code_challenge" in q["error_description"]


async def test_public_client_with_plain_pkce_is_refused(gw: Any) -> None:
    client, services = gw
    reg = await register(services, server_side=False)
    await login(client)
    verifier, _ = pkce_pair()
    resp = await client.get(
        "/oauth/authorize",
        params=authorize_params(reg, code_challenge=verifier[:43], code_challenge_method="plain"),
        allow_redirects=False,
    )
    q = query_of(resp.headers["Location"])
    assert q["error"] == "invalid_request" and "S256" in q["error_description"]


async def test_not_logged_in_redirects_to_login_then_back(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    resp = await client.get("/oauth/authorize", params=authorize_params(reg), allow_redirects=False)
    assert resp.status in (302, 303)
    assert resp.headers["Location"].startswith("/oauth/login?next=%2Foauth%2Fauthorize")
    assert_page_headers(resp)
    await login(client)
    await consent_page(client, reg)


async def test_prompt_none_without_session_is_login_required(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    resp = await client.get("/oauth/authorize", params=authorize_params(reg, prompt="none"), allow_redirects=False)
    assert query_of(resp.headers["Location"])["error"] == "login_required"


async def test_unpublished_app_only_owner_may_authorize(gw: Any) -> None:
    client, services = gw
    reg = await register(services, owner="1001", published=False)
    await login(client, "alice", "alice-password-1")
    resp = await client.get("/oauth/authorize", params=authorize_params(reg), allow_redirects=False)
    q = query_of(resp.headers["Location"])
    assert q["error"] == "access_denied" and "published" in q["error_description"]
    assert q["state"] == "st-123" and q["iss"] == ISSUER


async def test_unpublished_app_owner_may_authorize(gw: Any) -> None:
    client, services = gw
    reg = await register(services, owner="1001", published=False)
    await login(client)
    await consent_page(client, reg)


async def test_published_app_any_user_may_authorize(gw: Any) -> None:
    client, services = gw
    reg = await register(services, owner="1001", published=True)
    await login(client, "alice", "alice-password-1")
    html = await consent_page(client, reg)
    assert 'Signed in as <strong id="consent-user">alice</strong>' in html
    assert "Registered by <strong>demo</strong>" in html


async def test_consent_page_headers_and_no_third_party_assets(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    resp = await client.get("/oauth/authorize", params=authorize_params(reg), allow_redirects=False)
    assert resp.status == 200
    assert_page_headers(resp)
    html = await resp.text()
    # The one absolute URL is the client's origin, in "Authorizing will redirect to ..." (no asset from it).
    origin = "https://client.example"
    assert "http://" not in html and html.count("https://") == 1 and f"<strong>{origin}</strong>" in html
    # The one script is the app's own static file, admitted by this response's nonce (never 'unsafe-inline').
    scripts = re.findall(r"<script[^>]*>", html)
    nonce = re.search(r"script-src 'nonce-([^']+)'", resp.headers["Content-Security-Policy"])
    assert nonce and scripts == [f'<script src="/account/assets/pages.js" nonce="{nonce.group(1)}" defer>']
    assert "unsafe-inline" not in resp.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    resp = await client.get("/oauth/login")
    assert_page_headers(resp)


async def test_existing_redirect_uri_query_is_kept(gw: Any) -> None:
    client, services = gw
    reg = await register(services, redirect_uri="https://client.example/cb?tenant=7")
    await login(client)
    resp = await client.get("/oauth/authorize", params=authorize_params(reg, response_type="x"), allow_redirects=False)
    q = query_of(resp.headers["Location"])
    assert q["tenant"] == "7" and q["error"] == "unsupported_response_type"
