"""A real headless browser (Playwright driving Debian's chromium) through login, consent and the callback, against
real `scopegate serve` processes; then the code is exchanged and the token used at the proxy."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from playwright.sync_api import Browser, Route

from tests.e2e.harness import GatewayProcess, redis_dump

REDIRECT = "http://127.0.0.1:9/callback"  # never contacted: the browser's request is fulfilled by the test


def register(gw: GatewayProcess, scopes: list[str]) -> tuple[str, str]:
    resp = requests.post(
        gw.admin_url + "/admin/applications",
        headers=gw.admin_headers,
        timeout=5,
        json={"name": "Calendar Sync Pro", "redirect_uri": REDIRECT, "owner": "1001", "scopes": scopes},
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    return body["client_id"], body["client_secret"]


def drive_consent(
    browser: Browser, gw: GatewayProcess, client_id: str, decision: str, screenshot: Path | None = None
) -> dict[str, list[str]]:
    context = browser.new_context()
    page = context.new_page()
    landed: list[str] = []

    def callback(route: Route) -> None:
        landed.append(route.request.url)
        route.fulfill(status=200, body="back at the app")

    page.route(REDIRECT + "**", callback)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "scope": "events:read contacts:read",
            "state": "xyz-123",
        }
    )
    page.goto(gw.url + "/oauth/authorize?" + query)
    page.fill("input[name=username]", "demo")
    page.fill("input[name=password]", "demo")
    page.click("button[type=submit]")
    page.wait_for_selector("button[name=decision][value=approve]")
    text = page.inner_text("body")
    assert "Calendar Sync Pro" in text
    assert "View your calendar events" in text and "View your contacts" in text
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=True)
    page.click(f"button[name=decision][value={decision}]")
    page.wait_for_url(REDIRECT + "**")
    context.close()
    assert landed, "the browser never came back to the application"
    return parse_qs(urlsplit(landed[-1]).query)


def test_browser_login_consent_approve_then_token_works_for_its_scopes(
    browser: Browser, stack: GatewayProcess, tmp_path: Path, redis_url: str
) -> None:
    client_id, secret = register(stack, ["events:read", "contacts:read", "events:write"])
    params = drive_consent(browser, stack, client_id, "approve", screenshot=tmp_path / "consent.png")
    assert params["state"] == ["xyz-123"]
    assert params["iss"] == [stack.url]
    token = requests.post(
        stack.url + "/oauth/token",
        auth=(client_id, secret),
        timeout=5,
        data={"grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": REDIRECT},
    )
    assert token.status_code == 200, token.text
    access = token.json()["access_token"]
    assert token.json()["scope"].split() == ["contacts:read", "events:read"]
    ok = requests.get(stack.url + "/v1/events", headers={"Authorization": f"Bearer {access}"}, timeout=5)
    assert ok.status_code == 200
    assert ok.json()["demo_upstream"]["identity"]["X-Auth-User-Id"] == "1001"
    denied = requests.post(stack.url + "/v1/events", headers={"Authorization": f"Bearer {access}"}, json={}, timeout=5)
    assert denied.status_code == 403
    assert 'error="insufficient_scope"' in denied.headers["WWW-Authenticate"]
    refreshed = requests.post(
        stack.url + "/oauth/token",
        auth=(client_id, secret),
        timeout=5,
        data={"grant_type": "refresh_token", "refresh_token": token.json()["refresh_token"]},
    )
    assert refreshed.status_code == 200, refreshed.text

    raw_values = [
        params["code"][0],
        access,
        token.json()["refresh_token"],
        refreshed.json()["access_token"],
        refreshed.json()["refresh_token"],
        secret,
    ]
    dump = redis_dump(redis_url)
    logs = stack.logs()
    for raw in raw_values:
        assert raw not in dump, "a raw token, code or secret is stored in Redis"
        assert raw not in logs, "a raw token, code or secret is in the logs"
    assert "sg:at:" in dump  # the dump did see the token keys (as keyed hashes)


def test_browser_deny_returns_access_denied(browser: Browser, stack: GatewayProcess) -> None:
    client_id, _ = register(stack, ["events:read", "contacts:read"])
    params = drive_consent(browser, stack, client_id, "deny")
    assert params["error"] == ["access_denied"]
    assert params["state"] == ["xyz-123"]
    assert "code" not in params
