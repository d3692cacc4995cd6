"""A real headless browser through Developer Tools > OAuth Applications against a real `scopegate serve`: register an
application with the form (two scopes unticked), copy the once-shown client id and secret, authorize it and
exchange the code, then delete it from its edit screen and see its token refused."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from playwright.sync_api import Browser, Page, Route

from gateway.portal.developer import PATH
from tests.e2e.harness import GatewayProcess

REDIRECT = "http://127.0.0.1:9/devcallback"  # never contacted: the browser's request is fulfilled by the test
UNTICKED = ("imports:write", "messaging:send")


def authorize(page: Page, gw: GatewayProcess, client_id: str, scope: str) -> dict[str, list[str]]:
    """Start the flow in the (signed-in) page, approve on the consent screen, return the callback's query."""
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
            "scope": scope,
            "state": "dev-state-1",
        }
    )
    page.goto(gw.url + "/oauth/authorize?" + query)
    page.wait_for_selector("button[name=decision][value=approve]")
    text = page.inner_text("body")
    assert "Team Scheduler" in text and "View your calendar events" in text
    page.click("button[name=decision][value=approve]")
    page.wait_for_url(REDIRECT + "**")
    page.unroute(REDIRECT + "**")
    assert landed, "the browser never came back to the application"
    return parse_qs(urlsplit(landed[-1]).query)


def test_register_in_the_browser_use_it_then_delete_it(browser: Browser, stack: GatewayProcess, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()

    # Sign in: the page sends the browser to the login form and back.
    page.goto(stack.url + PATH)
    page.fill("input[name=username]", "demo")
    page.fill("input[name=password]", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(stack.url + PATH)
    assert "You have not registered any OAuth application yet." in page.inner_text("main")

    # Register: every scope ticked and Server-Side on by default; untick two.
    page.click("text=Register OAuth Application")
    page.wait_for_url(stack.url + PATH + "/new")
    boxes = page.locator("input[name=scope]")
    assert boxes.count() == 14
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    assert page.is_checked("input[name=server_side]")
    page.fill("input[name=name]", "Team Scheduler")
    page.fill("input[name=redirect_uri]", "http://scheduler.example/callback")
    for scope in UNTICKED:
        page.uncheck(f"input[name=scope][value='{scope}']")
    page.screenshot(path=str(tmp_path / "register_form.png"), full_page=True)

    # A mistake: the form comes back with the message next to the field and everything as it was typed.
    page.click("button:has-text('Create')")
    page.wait_for_selector("#redirect_uri-error")
    assert "Redirect URI must use https" in page.inner_text("#redirect_uri-error")
    assert page.input_value("input[name=name]") == "Team Scheduler"
    assert page.input_value("input[name=redirect_uri]") == "http://scheduler.example/callback"
    assert page.is_checked("input[name=server_side]")
    for i in range(boxes.count()):
        assert boxes.nth(i).is_checked() == (boxes.nth(i).get_attribute("value") not in UNTICKED)
    page.screenshot(path=str(tmp_path / "register_form_error.png"), full_page=True)
    page.fill("input[name=redirect_uri]", REDIRECT)
    page.click("button:has-text('Create')")
    page.wait_for_selector("#client-secret")

    client_id = page.inner_text("#client-id").strip()
    secret = page.inner_text("#client-secret").strip()
    assert secret.startswith("sgcs_")
    assert "shown only this once" in page.inner_text("main")
    row = page.locator(f"tr[data-client-id='{client_id}']")
    assert "Team Scheduler" in row.inner_text() and "12 of 14" in row.inner_text()
    page.screenshot(path=str(tmp_path / "list_page.png"), full_page=True)

    # Once only: the list shown again no longer has the secret.
    page.goto(stack.url + PATH)
    assert client_id in page.content() and secret not in page.content()

    # An unticked scope is refused at the authorization endpoint; a ticked one goes through consent.
    # (Checked without the browser: Chromium refuses to follow a direct redirect to the never-contacted port 9.)
    refused = requests.get(
        stack.url + "/oauth/authorize",
        allow_redirects=False,
        timeout=5,
        params={"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": "messaging:send"},
    )
    assert refused.status_code == 302
    assert parse_qs(urlsplit(refused.headers["Location"]).query)["error"] == ["invalid_scope"]
    params = authorize(page, stack, client_id, "events:read contacts:read")
    assert params["state"] == ["dev-state-1"] and "code" in params
    token = requests.post(
        stack.url + "/oauth/token",
        auth=(client_id, secret),
        timeout=5,
        data={"grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": REDIRECT},
    )
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert requests.get(stack.url + "/v1/events", headers=bearer, timeout=5).status_code == 200

    # The user now sees it under Authorized Applications; the two pages link to each other.
    page.goto(stack.url + "/account/authorized-applications")
    assert "Team Scheduler" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "authorized_apps.png"), full_page=True)
    page.click("nav >> text=OAuth Applications")
    page.wait_for_url(stack.url + PATH)

    # Delete from the edit screen (gear icon -> Delete -> confirm).
    page.click(f"tr[data-client-id='{client_id}'] a.gear")
    page.wait_for_url(f"{stack.url}{PATH}/{client_id}")
    assert page.input_value("input[name=name]") == "Team Scheduler"
    assert secret not in page.content()
    page.screenshot(path=str(tmp_path / "edit_form.png"), full_page=True)
    page.click("section.danger a:has-text('Delete')")
    page.wait_for_url(f"{stack.url}{PATH}/{client_id}/delete")
    assert "Every access token issued to this application is revoked immediately" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "delete_confirm.png"), full_page=True)
    page.click("button:has-text('Delete permanently')")
    page.wait_for_url(f"{stack.url}{PATH}?done=deleted")
    assert "Application deleted." in page.inner_text("main")
    assert client_id not in page.content()

    rejected = requests.get(stack.url + "/v1/events", headers=bearer, timeout=5)
    assert rejected.status_code == 401
    context.close()

    for name in (
        "register_form.png",
        "register_form_error.png",
        "list_page.png",
        "edit_form.png",
        "delete_confirm.png",
    ):
        assert (tmp_path / name).stat().st_size > 10_000
