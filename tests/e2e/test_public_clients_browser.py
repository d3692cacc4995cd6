"""Issue 11 with real clients: a returning user and an unpublished app in Chromium (the sign-in form may end at the
client), a desktop app (Authlib, ephemeral loopback port), a mobile app (private-use scheme) and a single-page app
(fetch() from its own origin, CORS), against real `scopegate serve` processes."""

from __future__ import annotations

import http.server
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from playwright.sync_api import Browser, Page, Request, Route

from tests.e2e.harness import GatewayProcess, free_port


def register(
    gw: GatewayProcess, redirect_uri: str, *, server_side: bool = True, owner: str = "1001", published: bool = True
) -> dict[str, Any]:
    resp = requests.post(
        gw.admin_url + "/admin/applications",
        headers=gw.admin_headers,
        timeout=5,
        json={
            "name": "Field App",
            "redirect_uri": redirect_uri,
            "owner": owner,
            "server_side": server_side,
            "published": published,
            "scopes": ["events:read", "contacts:read"],
        },
    )
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def sign_in(page: Page) -> None:
    page.fill("input[name=username]", "demo")
    page.fill("input[name=password]", "demo")
    page.click("button[type=submit]")


def pkce() -> tuple[str, str]:
    from gateway.security import s256_challenge

    verifier = secrets.token_urlsafe(48)
    return verifier, s256_challenge(verifier)


# --- returning users: the sign-in form leads straight to the client -------------------------------------------


def _authorize_url(gw: GatewayProcess, client_id: str, redirect_uri: str, challenge: str | None = None) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "events:read",
        "state": "st-1",
    }
    if challenge is not None:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return gw.url + "/oauth/authorize?" + urlencode(params)


def _capture(page: Page, prefix: str) -> list[str]:
    landed: list[str] = []

    def callback(route: Route) -> None:
        landed.append(route.request.url)
        route.fulfill(status=200, body="back at the app")

    page.route(prefix + "**", callback)
    return landed


def test_returning_user_signs_in_and_the_browser_reaches_the_client(browser: Browser, stack: GatewayProcess) -> None:
    redirect_uri = "https://app.example/callback"  # never contacted: the test answers the browser's request
    app = register(stack, redirect_uri)
    first = browser.new_context()
    page = first.new_page()
    landed = _capture(page, redirect_uri)
    page.goto(_authorize_url(stack, app["client_id"], redirect_uri))
    sign_in(page)
    page.click("button[name=decision][value=approve]")
    page.wait_for_url(redirect_uri + "**")
    first.close()
    assert "code" in parse_qs(urlsplit(landed[-1]).query)

    # A new browser (expired session): signing in answers with a redirect to /oauth/authorize, which redirects to
    # the client at once (already approved). CSP form-action of the sign-in page must allow that chain.
    again = browser.new_context()
    page = again.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    landed = _capture(page, redirect_uri)
    login_page = page.goto(_authorize_url(stack, app["client_id"], redirect_uri))
    assert login_page is not None and urlsplit(login_page.url).path == "/oauth/login"
    assert "form-action 'self' https://app.example;" in login_page.headers["content-security-policy"]
    sign_in(page)
    page.wait_for_url(redirect_uri + "**")
    again.close()
    assert not blocked, blocked
    query = parse_qs(urlsplit(landed[-1]).query)
    assert query["state"] == ["st-1"] and query["code"][0].startswith("sgac_")
    token = requests.post(
        stack.url + "/oauth/token",
        auth=(app["client_id"], app["client_secret"]),
        timeout=5,
        data={"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": redirect_uri},
    )
    assert token.status_code == 200, token.text


def test_unpublished_app_non_owner_signs_in_and_access_denied_reaches_the_client(
    browser: Browser, stack: GatewayProcess
) -> None:
    redirect_uri = "https://other.example/cb"
    app = register(stack, redirect_uri, owner="2002", published=False)  # demo (1001) is not its owner
    context = browser.new_context()
    page = context.new_page()
    landed = _capture(page, redirect_uri)
    page.goto(_authorize_url(stack, app["client_id"], redirect_uri))
    sign_in(page)
    page.wait_for_url(redirect_uri + "**")
    context.close()
    query = parse_qs(urlsplit(landed[-1]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["st-1"] and "code" not in query


# --- desktop: Authlib on an ephemeral loopback port -------------------------------------------------------------


class _Catcher(http.server.BaseHTTPRequestHandler):
    received: list[str]

    def do_GET(self) -> None:
        self.received.append(self.path)
        body = b"You can close this window."
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def loopback_listener(host: str = "127.0.0.1") -> Iterator[tuple[int, list[str]]]:
    received: list[str] = []
    handler = type("Catcher", (_Catcher,), {"received": received})
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


def test_desktop_app_with_authlib_on_any_loopback_port(browser: Browser, stack: GatewayProcess) -> None:
    registered_port = free_port()
    app = register(stack, f"http://127.0.0.1:{registered_port}/cb", server_side=False)
    assert "client_secret" not in app and app["token_endpoint_auth_methods"] == ["none"]
    with loopback_listener() as (port, received):
        assert port != registered_port
        redirect_uri = f"http://127.0.0.1:{port}/cb"  # the port this run of the app listens on
        client = OAuth2Session(
            app["client_id"],
            redirect_uri=redirect_uri,
            scope="events:read",
            token_endpoint_auth_method="none",
            code_challenge_method="S256",
        )
        verifier = generate_token(48)
        url, state = client.create_authorization_url(stack.url + "/oauth/authorize", code_verifier=verifier)
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)  # the system browser the app opened
        sign_in(page)
        page.click("button[name=decision][value=approve]")
        page.wait_for_url(redirect_uri + "**")
        context.close()
        # Only the redirect itself counts: Chromium may also ask the listener for /favicon.ico afterwards.
        callbacks = [path for path in received if path.startswith("/cb?")]
        assert callbacks, f"the code never reached the app's listener (it saw {received})"
        callback = f"http://127.0.0.1:{port}{callbacks[0]}"
        token = client.fetch_token(
            stack.url + "/oauth/token", authorization_response=callback, code_verifier=verifier, state=state
        )
    assert token["scope"] == "events:read"
    resp = client.get(stack.url + "/v1/events")
    assert resp.status_code == 200, resp.text
    assert resp.json()["demo_upstream"]["identity"]["X-Auth-User-Id"] == "1001"


# --- mobile: a private-use scheme ------------------------------------------------------------------------------


def test_mobile_app_private_use_scheme_and_pkce_only(browser: Browser, stack: GatewayProcess) -> None:
    redirect_uri = "com.example.app:/oauth2redirect"
    app = register(stack, redirect_uri, server_side=False)
    verifier, challenge = pkce()
    context = browser.new_context()
    page = context.new_page()
    seen: list[str] = []

    def on_request(request: Request) -> None:
        if request.url.startswith("com.example.app:"):
            seen.append(request.url)
        redirected = request.redirected_from
        if redirected is not None:
            location = redirected.response()
            if location is not None and location.headers.get("location", "").startswith("com.example.app:"):
                seen.append(location.headers["location"])

    page.on("request", on_request)
    page.on(
        "response",
        lambda r: (
            seen.append(r.headers["location"]) if r.headers.get("location", "").startswith("com.example.app:") else None
        ),
    )
    page.goto(_authorize_url(stack, app["client_id"], redirect_uri, challenge))
    sign_in(page)
    page.click("button[name=decision][value=approve]")
    page.wait_for_timeout(200)
    for _ in range(50):
        if seen:
            break
        page.wait_for_timeout(100)
    context.close()
    assert seen, "the browser was never sent to the app's scheme"
    assert seen[0].startswith(redirect_uri + "?")
    query = parse_qs(urlsplit(seen[0]).query)
    assert query["state"] == ["st-1"]
    token = requests.post(
        stack.url + "/oauth/token",
        timeout=5,
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": redirect_uri,
            "client_id": app["client_id"],
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    # A client_secret (any) from a public client is refused.
    refused = requests.post(
        stack.url + "/oauth/token",
        timeout=5,
        data={
            "grant_type": "refresh_token",
            "refresh_token": token.json()["refresh_token"],
            "client_id": app["client_id"],
            "client_secret": "sgcs_guess",
        },
    )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


# --- single-page app: fetch() from its own origin -------------------------------------------------------------

_SPA = b"""<!doctype html><meta charset="utf-8"><title>SPA</title><p id="status">loaded</p>"""


class _Static(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(_SPA)))
        self.end_headers()
        self.wfile.write(_SPA)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def static_site(host: str) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer((host, 0), _Static)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


_FETCH = """async ([url, form]) => {
  try {
    const resp = await fetch(url, {method: "POST", body: new URLSearchParams(form)});
    return {ok: true, status: resp.status, body: await resp.text()};
  } catch (e) {
    return {ok: false, error: String(e)};
  }
}"""


def test_single_page_app_fetches_tokens_from_its_origin_only(browser: Browser, stack: GatewayProcess) -> None:
    with static_site("127.0.0.2") as spa, static_site("127.0.0.3") as other:
        redirect_uri = spa + "/callback"
        app = register(stack, redirect_uri, server_side=False)
        verifier, challenge = pkce()
        context = browser.new_context()
        page = context.new_page()
        page.goto(_authorize_url(stack, app["client_id"], redirect_uri, challenge))
        sign_in(page)
        page.click("button[name=decision][value=approve]")
        page.wait_for_url(redirect_uri + "**")
        code = parse_qs(urlsplit(page.url).query)["code"][0]
        token_url = stack.url + "/oauth/token"
        # The app's own page (its registered origin) runs the exchange with fetch().
        exchanged = page.evaluate(
            _FETCH,
            [
                token_url,
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "client_id": app["client_id"],
                    "code_verifier": verifier,
                },
            ],
        )
        assert exchanged["ok"] and exchanged["status"] == 200, exchanged
        tokens = json.loads(exchanged["body"])
        refreshed = page.evaluate(
            _FETCH,
            [
                token_url,
                {
                    "grant_type": "refresh_token",
                    "refresh_token": tokens["refresh_token"],
                    "client_id": app["client_id"],
                },
            ],
        )
        assert refreshed["ok"] and refreshed["status"] == 200, refreshed
        fresh = json.loads(refreshed["body"])
        # An error is readable too (the rotated refresh token is refused, with its reason).
        replay = page.evaluate(
            _FETCH,
            [
                token_url,
                {
                    "grant_type": "refresh_token",
                    "refresh_token": fresh["refresh_token"] + "x",
                    "client_id": app["client_id"],
                },
            ],
        )
        assert replay["ok"] and replay["status"] == 400 and "invalid_grant" in replay["body"], replay

        # The app revokes its token with fetch(); the proxy refuses it afterwards.
        ok = requests.get(
            stack.url + "/v1/events", headers={"Authorization": f"Bearer {fresh['access_token']}"}, timeout=5
        )
        assert ok.status_code == 200, ok.text
        revoked = page.evaluate(
            _FETCH, [stack.url + "/oauth/revoke", {"token": fresh["access_token"], "client_id": app["client_id"]}]
        )
        assert revoked["ok"] and revoked["status"] == 200, revoked
        # Another origin cannot read the answers (no Access-Control-Allow-Origin for it): the same calls that the
        # app's origin reads fail there as CORS errors.
        foreign = context.new_page()
        foreign.goto(other + "/")
        stolen = foreign.evaluate(
            _FETCH,
            [
                token_url,
                {
                    "grant_type": "refresh_token",
                    "refresh_token": fresh["refresh_token"] + "x",
                    "client_id": app["client_id"],
                },
            ],
        )
        assert not stolen["ok"] and "Failed to fetch" in stolen["error"], stolen
        revoked_elsewhere = foreign.evaluate(
            _FETCH, [stack.url + "/oauth/revoke", {"token": fresh["access_token"], "client_id": app["client_id"]}]
        )
        assert not revoked_elsewhere["ok"], revoked_elsewhere
        # Metadata is public: any origin reads it.
        meta = foreign.evaluate(
            "async (u) => (await fetch(u)).json()", stack.url + "/.well-known/oauth-authorization-server"
        )
        assert meta["issuer"] == stack.url
        context.close()
    gone = requests.get(
        stack.url + "/v1/events", headers={"Authorization": f"Bearer {fresh['access_token']}"}, timeout=5
    )
    assert gone.status_code == 401
