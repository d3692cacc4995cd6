"""What the pages say about people and places (issue 12): the consent screen names the signed-in user, the
registering owner and the redirect origin; the list pages show the account and who authorized; a wrong password
keeps the username; unknown /account/ paths are a page for browsers; the pages' one script is served and admitted
by a nonce."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web

from tests.oauth.helpers import consent_page, field, full_flow, login, register

HTML = {"Accept": "text/html"}


async def test_consent_names_user_redirect_origin_and_owner(gw: Any) -> None:
    client, services = gw
    theirs = await register(
        services,
        owner="2002",
        published=True,
        name="Alice's Planner",
        redirect_uri="https://planner.example:8443/oauth/cb?x=1",
    )
    await login(client)  # demo (user id 1001)
    html = await consent_page(client, theirs)
    assert 'Signed in as <strong id="consent-user">demo</strong>' in html
    assert ">1001<" not in html  # the id is not how a person is named
    assert "Registered by <strong>alice</strong>." in html
    assert "Authorizing will redirect to <strong>https://planner.example:8443</strong>" in html
    assert "/oauth/cb" not in html.split("Authorizing will redirect to")[1]  # the origin, not the path

    own = await register(services, owner="1001", published=False, name="My Own Tool")
    html = await consent_page(client, own)
    assert "You registered this application." in html and "Registered by" not in html
    assert "Authorizing will redirect to <strong>https://client.example</strong>" in html


async def test_every_signed_in_page_has_a_sign_out_form_that_works(gw: Any) -> None:
    client, services = gw
    reg = await register(services, owner="1001")
    await login(client)
    await full_flow(client, reg, scope="events:read")
    pages = [
        "/account/authorized-applications",
        f"/account/authorized-applications/{reg.client_id}/revoke",
        "/account/developer/applications",
        "/account/developer/applications/new",
        f"/account/developer/applications/{reg.client_id}",
        f"/account/developer/applications/{reg.client_id}/delete",
    ]
    for path in pages:
        resp = await client.get(path, headers=HTML)
        html = await resp.text()
        assert resp.status == 200, path
        assert "Signed in as <strong>demo</strong>" in html, path
        assert re.search(
            r'<form method="post" action="/oauth/logout"><input type="hidden" name="csrf" '
            r'value="[^"]+"><button type="submit" class="secondary">Sign out</button></form>',
            html,
        ), path
    html = await (await client.get(pages[0], headers=HTML)).text()
    resp = await client.post("/oauth/logout", data={"csrf": field(html, "csrf")}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/oauth/login"
    resp = await client.get(pages[0], headers=HTML, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/oauth/login")


async def test_wrong_password_keeps_the_username(gw: Any) -> None:
    client, _ = gw
    html = await (await client.get("/oauth/login")).text()
    assert 'name="username" value=""' in html
    resp = await client.post(
        "/oauth/login", data={"username": "demo<x>", "password": "wrong", "csrf": field(html, "csrf"), "next": ""}
    )
    assert resp.status == 401
    html = await resp.text()
    assert 'name="username" value="demo&lt;x&gt;"' in html  # kept, escaped
    assert re.search(r'id="password"[^>]*autofocus', html)  # the password is what to type again


@pytest.mark.parametrize("path", ["/account/nope", "/account/developer/nope/deeper", "/account/"])
async def test_unknown_account_path_is_a_page_for_browsers_and_json_for_the_portal(gw: Any, path: str) -> None:
    client, _ = gw
    resp = await client.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert resp.status == 404 and resp.content_type == "text/html"
    assert "Page not found" in await resp.text()
    resp = await client.get(path, headers={"Accept": "application/json"})
    assert resp.status == 404 and resp.content_type == "application/json"
    assert (await resp.json())["error"] == "not_found"


async def test_the_pages_script_is_served_and_only_it_runs(gw: Any) -> None:
    client, _ = gw
    resp = await client.get("/oauth/login")
    csp = resp.headers["Content-Security-Policy"]
    nonce = re.search(r"script-src 'nonce-([A-Za-z0-9_-]{16,})'", csp)
    assert nonce and "unsafe" not in csp.split("script-src")[1].split(";")[0]
    assert f'<script src="/account/assets/pages.js" nonce="{nonce.group(1)}" defer></script>' in await resp.text()
    again = await client.get("/oauth/login")
    assert again.headers["Content-Security-Policy"] != csp  # a fresh nonce per response
    js = await client.get("/account/assets/pages.js")
    assert js.status == 200 and js.content_type == "text/javascript"
    assert js.headers["X-Content-Type-Options"] == "nosniff"
    assert "navigator.clipboard.writeText" in await js.text()


async def test_authorized_applications_columns_and_json(gw: Any) -> None:
    client, services = gw
    reg = await register(services, name="Calendar Sync")
    await login(client)
    await full_flow(client, reg, scope="events:read contacts:read")
    html = await (await client.get("/account/authorized-applications", headers=HTML)).text()
    heads = re.findall(r"<th>([^<]*)</th>", html)
    assert heads == ["Application", "Scopes", "Account", "Authorized by", "Authorized", "Last Used"]
    assert '<table class="apps">' in html  # the OAuth Applications table style
    assert "View your contacts" in html and "Never" in html
    body = await (await client.get("/account/authorized-applications", headers={"Accept": "application/json"})).json()
    row = body["applications"][0]
    assert row["account_id"] == "1001" and row["authorized_by"] == "1001"


async def test_upstream_session_account_id_is_shown(make_gateway: Any, echo_upstream: Any, aiohttp_server: Any) -> None:
    async def session(request: web.Request) -> web.Response:
        return web.json_response({"user_id": 3003, "account_id": "acct-77"})

    up = web.Application()
    up.router.add_get("/api/session", session)
    server = await aiohttp_server(up)
    client, services = await make_gateway(
        echo_upstream.url,
        login={
            "mode": "upstream_session",
            "session_url": str(server.make_url("/api/session")),
            "login_url": "https://app.apptoto.example/login",
        },
    )
    reg = await register(services, owner="3003")
    await full_flow(client, reg, scope="events:read")
    html = await (await client.get("/account/authorized-applications", headers=HTML)).text()
    assert 'Your account <span class="badge">acct-77</span>' in html
    assert "You (3003)" in html and "Signed in as <strong>3003</strong>" in html
    body = await (await client.get("/account/authorized-applications", headers={"Accept": "application/json"})).json()
    assert body["applications"][0]["account_id"] == "acct-77"
