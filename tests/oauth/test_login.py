"""Who the user is: static users (form), trusted SSO header (only from trusted proxies), upstream session; and the
session cookie's attributes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web

from tests.oauth.helpers import STATIC_LOGIN, approve, authorize_params, field, login, query_of, register


async def test_session_cookie_is_signed_httponly_lax(gw: Any) -> None:
    client, _ = gw
    resp = await client.get("/oauth/login")
    csrf = field(await resp.text(), "csrf")
    resp = await client.post(
        "/oauth/login", data={"username": "demo", "password": "demo", "csrf": csrf}, allow_redirects=False
    )
    assert resp.status == 303
    assert resp.headers["Location"] == "/account/authorized-applications"
    cookie = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith("sg_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # public_url is http in the demo config


async def test_secure_cookie_when_public_url_is_https(make_gateway: Any, echo_upstream: Any) -> None:
    client, _ = await make_gateway(echo_upstream.url, login=STATIC_LOGIN, public_url="https://auth.example")
    resp = await client.get("/oauth/login")
    csrf = field(await resp.text(), "csrf")
    nonce = resp.cookies["sg_login"]
    assert nonce["secure"]
    # The test client speaks plain http, so it would not send a Secure cookie back: send it by hand.
    resp = await client.post(
        "/oauth/login",
        data={"username": "demo", "password": "demo", "csrf": csrf},
        headers={"Cookie": f"sg_login={nonce.value}"},
        allow_redirects=False,
    )
    assert resp.status == 303
    cookie = next(c for c in resp.headers.getall("Set-Cookie") if "sg_session=" in c)
    assert cookie.startswith("__Host-sg_session=") and "Secure" in cookie and "HttpOnly" in cookie


async def test_tampered_session_cookie_is_ignored(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    jar = client.session.cookie_jar
    value = next(c.value for c in jar if c.key == "sg_session")
    sid, _, sig = value.partition(".")
    jar.clear()
    resp = await client.get(
        "/oauth/authorize",
        params=authorize_params(reg),
        allow_redirects=False,
        headers={"Cookie": f"sg_session={sid}.{sig[::-1]}"},
    )
    assert resp.headers["Location"].startswith("/oauth/login")


async def test_wrong_password_and_unknown_user_fail_alike(gw: Any) -> None:
    client, _ = gw
    for username, password in (("demo", "nope"), ("nobody", "demo")):
        resp = await client.get("/oauth/login")
        csrf = field(await resp.text(), "csrf")
        resp = await client.post(
            "/oauth/login", data={"username": username, "password": password, "csrf": csrf}, allow_redirects=False
        )
        assert resp.status == 401
        assert "Invalid username or password" in await resp.text()


async def test_login_form_needs_its_csrf_token(gw: Any) -> None:
    client, _ = gw
    await client.get("/oauth/login")
    resp = await client.post(
        "/oauth/login", data={"username": "demo", "password": "demo", "csrf": "forged"}, allow_redirects=False
    )
    assert resp.status == 400


async def test_login_next_must_be_local(gw: Any) -> None:
    client, _ = gw
    resp = await client.get("/oauth/login", params={"next": "//evil.example/x"})
    assert field(await resp.text(), "next") == "/account/authorized-applications"
    csrf = field(await resp.text(), "csrf")
    resp = await client.post(
        "/oauth/login",
        data={"username": "demo", "password": "demo", "csrf": csrf, "next": "https://evil.example/"},
        allow_redirects=False,
    )
    assert resp.headers["Location"] == "/account/authorized-applications"


async def test_login_failures_are_throttled(make_gateway: Any, echo_upstream: Any) -> None:
    client, _ = await make_gateway(echo_upstream.url, login=STATIC_LOGIN, client_auth={"max_failures": 2})
    statuses = []
    for _ in range(3):
        resp = await client.get("/oauth/login")
        csrf = field(await resp.text(), "csrf")
        resp = await client.post(
            "/oauth/login", data={"username": "demo", "password": "bad", "csrf": csrf}, allow_redirects=False
        )
        statuses.append(resp.status)
    assert statuses == [401, 401, 429]


async def test_logout_ends_the_session(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    resp = await client.get("/account/authorized-applications", headers={"Accept": "application/json"})
    csrf = (await resp.json())["csrf_token"]
    resp = await client.post("/oauth/logout", data={"csrf": csrf}, allow_redirects=False)
    assert resp.status == 303
    resp = await client.get("/oauth/authorize", params=authorize_params(reg), allow_redirects=False)
    assert resp.headers["Location"].startswith("/oauth/login")


# --- trusted_header -------------------------------------------------------------------------------------------


def trusted(proxies: list[str]) -> dict[str, Any]:
    return {"mode": "trusted_header", "header": "X-SSO-User", "trusted_proxies": proxies}


async def test_trusted_header_from_trusted_proxy(make_gateway: Any, echo_upstream: Any) -> None:
    client, services = await make_gateway(echo_upstream.url, login=trusted(["127.0.0.1/32"]))
    reg = await register(services, owner="4004")
    resp = await client.get(
        "/oauth/authorize", params=authorize_params(reg), headers={"X-SSO-User": "4004"}, allow_redirects=False
    )
    assert resp.status == 200
    html = await resp.text()
    assert "4004" in html
    location = await approve(client, html, headers={"X-SSO-User": "4004"})  # behind SSO, every request has it
    assert "code" in query_of(location)
    assert await services.store.get_authorization("4004", reg.client_id) is not None


async def test_trusted_header_ignored_from_untrusted_address(make_gateway: Any, echo_upstream: Any) -> None:
    client, services = await make_gateway(echo_upstream.url, login=trusted(["10.0.0.0/8"]))
    reg = await register(services, owner="4004")
    resp = await client.get(
        "/oauth/authorize", params=authorize_params(reg), headers={"X-SSO-User": "4004"}, allow_redirects=False
    )
    assert resp.status == 401
    assert "Location" not in resp.headers


async def test_trusted_header_change_of_user_gets_a_new_session(make_gateway: Any, echo_upstream: Any) -> None:
    client, services = await make_gateway(echo_upstream.url, login=trusted(["127.0.0.1/32"]))
    reg = await register(services, owner="4004")
    resp = await client.get("/oauth/authorize", params=authorize_params(reg), headers={"X-SSO-User": "4004"})
    html = await resp.text()
    # The SSO proxy now says someone else: the pending consent of the first user cannot be answered as them.
    resp = await client.post(
        "/oauth/consent",
        data={"request_id": field(html, "request_id"), "csrf": field(html, "csrf"), "decision": "approve"},
        headers={"X-SSO-User": "5005"},
        allow_redirects=False,
    )
    assert resp.status == 403  # the SSO proxy no longer names the session's user: the decision does not count
    assert "signed in as someone else" in await resp.text()
    assert await services.store.get_authorization("4004", reg.client_id) is None
    resp = await client.get(
        "/oauth/authorize", params=authorize_params(reg), headers={"X-SSO-User": "5005"}, allow_redirects=False
    )
    assert resp.status == 200 and "5005" in await resp.text()


# --- upstream_session -----------------------------------------------------------------------------------------


@pytest.fixture
async def fake_upstream(aiohttp_server: Any) -> Any:
    async def session(request: web.Request) -> web.Response:
        if request.cookies.get("up_session") == "good":
            return web.json_response({"user_id": 3003, "name": "Upstream User"})
        if request.cookies.get("up_session") == "weird":
            return web.json_response({"user_id": "bad id with spaces"})
        return web.json_response({"error": "not logged in"}, status=401)

    app = web.Application()
    app.router.add_get("/api/session", session)
    return await aiohttp_server(app)


async def upstream_gateway(make_gateway: Any, echo_upstream: Any, fake_upstream: Any) -> Any:
    return await make_gateway(
        echo_upstream.url,
        login={
            "mode": "upstream_session",
            "session_url": str(fake_upstream.make_url("/api/session")),
            "login_url": "https://app.apptoto.example/login",
            "return_param": "return_to",
        },
    )


async def test_upstream_session_logged_in(make_gateway: Any, echo_upstream: Any, fake_upstream: Any) -> None:
    client, services = await upstream_gateway(make_gateway, echo_upstream, fake_upstream)
    reg = await register(services, owner="3003")
    client.session.cookie_jar.update_cookies({"up_session": "good"})
    resp = await client.get("/oauth/authorize", params=authorize_params(reg), allow_redirects=False)
    assert resp.status == 200, await resp.text()
    location = await approve(client, await resp.text())
    assert "code" in query_of(location)
    assert await services.store.get_authorization("3003", reg.client_id) is not None


@pytest.mark.parametrize("cookie", [None, "bad", "weird"])
async def test_upstream_session_not_logged_in_redirects_with_safe_return(
    make_gateway: Any, echo_upstream: Any, fake_upstream: Any, cookie: str | None
) -> None:
    client, services = await upstream_gateway(make_gateway, echo_upstream, fake_upstream)
    reg = await register(services, owner="3003")
    if cookie:
        client.session.cookie_jar.update_cookies({"up_session": cookie})
    resp = await client.get(
        "/oauth/authorize", params=authorize_params(reg), allow_redirects=False, headers={"Host": "evil.example"}
    )
    assert resp.status == 302
    location = resp.headers["Location"]
    assert location.startswith("https://app.apptoto.example/login?return_to=")
    back = parse_qs(urlsplit(location).query)["return_to"][0]
    # Built from public_url, never from the request's Host.
    assert back.startswith("http://127.0.0.1:8080/oauth/authorize?")


async def test_upstream_session_unreachable_fails_closed(make_gateway: Any, echo_upstream: Any) -> None:
    client, services = await make_gateway(
        echo_upstream.url,
        login={
            "mode": "upstream_session",
            "session_url": "http://127.0.0.1:9/api/session",
            "login_url": "https://app.apptoto.example/login",
        },
    )
    reg = await register(services, owner="3003")
    resp = await client.get("/oauth/authorize", params=authorize_params(reg), allow_redirects=False)
    assert resp.status == 502


async def test_prompt_none_under_sso_without_the_header_is_login_required(
    make_gateway: Any, echo_upstream: Any
) -> None:
    client, services = await make_gateway(echo_upstream.url, login=trusted(["127.0.0.1/32"]))
    reg = await register(services, owner="4004")
    resp = await client.get("/oauth/authorize", params=authorize_params(reg, prompt="none"), allow_redirects=False)
    assert resp.status == 302
    assert query_of(resp.headers["Location"])["error"] == "login_required"
