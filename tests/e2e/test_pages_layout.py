"""Every page at a phone's width (390 px) and a desktop's (1280 px) in a real Chromium against `scopegate serve`:
no page scrolls sideways, every input has a label, the copy buttons copy, Revoke asks and then says what
happened, and Sign out works from every signed-in page. Screenshots go to `<tmp_path>/pages-<width>/`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from playwright.sync_api import Browser, Page, Route

from gateway.portal.account import PATH as AUTHORIZED
from gateway.portal.developer import PATH as DEVELOPER
from tests.e2e.harness import GatewayProcess

# Never contacted (the test fulfils the browser's request); long, to try the layout.
REDIRECT = "http://127.0.0.1:9/oauth/callback/for-the-team-scheduler-integration-of-our-company"

UNLABELLED = """() => Array.from(document.querySelectorAll("input, select, textarea"))
  .filter(e => !["hidden", "submit", "button", "reset", "image"].includes(e.type))
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby"))
  .map(e => e.name || e.id || e.outerHTML)"""


class Pages:
    """The page under test, checked and photographed the same way every time."""

    def __init__(self, page: Page, gw: GatewayProcess, shots: Path) -> None:
        self.page, self.gw, self.shots = page, gw, shots
        self.taken: list[str] = []

    def check(self, name: str, *, signed_in: bool = True) -> None:
        page = self.page
        page.wait_for_load_state("load")
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)
        scroll, inner = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{name} scrolls sideways: {scroll} > {inner}"
        assert page.evaluate(UNLABELLED) == [], f"{name} has inputs without a label"
        sign_out = page.locator("header.viewer button:has-text('Sign out')")
        assert sign_out.count() == (1 if signed_in else 0), name
        if signed_in:
            assert "Signed in as demo" in page.inner_text("header.viewer")
        self.taken.append(name)

    def sign_in(self, password: str = "demo") -> None:
        self.page.fill("input[name=username]", "demo")
        self.page.fill("input[name=password]", password)
        self.page.click("form.signin button[type=submit]")

    def authorize_url(self, client_id: str) -> str:
        return (
            self.gw.url
            + "/oauth/authorize?"
            + urlencode(
                {
                    "response_type": "code",
                    "client_id": client_id,
                    "redirect_uri": REDIRECT,
                    "scope": "events:read contacts:read",
                    "state": "layout-1",
                }
            )
        )

    def clipboard(self) -> str:
        text: str = self.page.evaluate("() => navigator.clipboard.readText()")
        return text


@pytest.mark.parametrize("width", [390, 1280])
def test_every_page_fits_is_labelled_copies_revokes_and_signs_out(
    browser: Browser, stack: GatewayProcess, tmp_path: Path, width: int
) -> None:
    shots = tmp_path / f"pages-{width}"
    shots.mkdir()
    context = browser.new_context(
        viewport={"width": width, "height": 900}, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    p = Pages(page, stack, shots)

    def back_at_the_app(route: Route) -> None:
        route.fulfill(status=200, body="back at the app")

    page.route(REDIRECT + "**", back_at_the_app)

    # Sign-in, and a wrong password: the username stays.
    page.goto(stack.url + DEVELOPER)
    page.wait_for_url("**/oauth/login?**")
    p.check("sign_in", signed_in=False)
    p.sign_in(password="wrong")
    page.wait_for_selector("p.error")
    assert "Invalid username or password." in page.inner_text("main")
    assert page.input_value("input[name=username]") == "demo"
    p.check("sign_in_error", signed_in=False)
    p.sign_in()
    page.wait_for_url(stack.url + DEVELOPER)
    p.check("developer_list_empty")

    # Register (with a mistake first: the form comes back with the message and the input kept).
    page.click("text=Register OAuth Application")
    page.wait_for_url(stack.url + DEVELOPER + "/new")
    p.check("register")
    page.fill("input[name=name]", "Team Scheduler for the Whole Company")
    page.fill("input[name=redirect_uri]", "http://scheduler.example/callback")
    page.click("button:has-text('Create')")
    page.wait_for_selector("#redirect_uri-error")
    p.check("register_error")
    page.fill("input[name=redirect_uri]", REDIRECT)
    page.click("button:has-text('Create')")
    page.wait_for_selector("#client-secret")
    client_id = page.inner_text("#client-id").strip()
    secret = page.inner_text("#client-secret").strip()
    # A second application, so the table has rows of more than one kind.
    other = requests.post(
        stack.admin_url + "/admin/applications",
        headers=stack.admin_headers,
        timeout=5,
        json={
            "name": "Calendar Sync Pro",
            "redirect_uri": "https://calendar-sync.example/oauth/callback",
            "owner": "1001",
            "scopes": ["events:read"],
            "server_side": False,
        },
    )
    assert other.status_code == 201, other.text
    p.check("developer_list_created")

    # The copy buttons copy.
    page.click("button[data-copy=client-id]")
    page.wait_for_function("() => document.querySelector('button[data-copy=client-id]').textContent === 'Copied'")
    assert p.clipboard() == client_id
    page.click("button[data-copy=client-secret]")
    page.wait_for_selector("text=Copied the client secret to the clipboard.")
    assert p.clipboard() == secret and secret.startswith("sgcs_")

    page.goto(stack.url + DEVELOPER)
    assert page.locator("table.apps tbody tr").count() == 2
    p.check("developer_list_rows")
    page.click(f"tr[data-client-id='{client_id}'] button.copy")
    page.wait_for_function(
        f"() => document.querySelector(\"tr[data-client-id='{client_id}'] button.copy\").textContent === 'Copied'"
    )
    assert p.clipboard() == client_id

    # Edit and Delete screens (the edit screen's copy button too).
    page.click(f"tr[data-client-id='{client_id}'] a.gear")
    page.wait_for_url(f"{stack.url}{DEVELOPER}/{client_id}")
    p.check("edit")
    page.evaluate("() => navigator.clipboard.writeText('')")
    page.click("button[data-copy=client-id]")
    page.wait_for_selector("text=Copied the client ID to the clipboard.")
    assert p.clipboard() == client_id
    page.click("section.danger a:has-text('Delete')")
    page.wait_for_url(f"{stack.url}{DEVELOPER}/{client_id}/delete")
    p.check("delete_confirm")

    # Consent: names the user, the registering owner (here: the user) and where approving leads.
    page.goto(p.authorize_url(client_id))
    page.wait_for_selector("button[name=decision][value=approve]")
    text = page.inner_text("main")
    assert "Signed in as demo." in text
    assert "You registered this application." in text
    assert "Authorizing will redirect to http://127.0.0.1:9" in text
    p.check("consent")
    page.click("button[name=decision][value=approve]")
    page.wait_for_url(REDIRECT + "**")

    # Authorized Applications; Revoke asks first, then says what happened.
    page.goto(stack.url + AUTHORIZED)
    row = page.locator(f"tr[data-client-id='{client_id}']")
    assert "You (demo)" in row.inner_text() and "Your account" in row.inner_text()
    p.check("authorized_apps")
    row.locator("a:has-text('Revoke')").click()
    page.wait_for_url(f"{stack.url}{AUTHORIZED}/{client_id}/revoke")
    assert "Revoke Team Scheduler for the Whole Company?" in page.inner_text("main")
    p.check("revoke_confirm")
    page.click("text=Cancel")  # cancelling keeps it
    page.wait_for_url(stack.url + AUTHORIZED)
    assert page.locator(f"tr[data-client-id='{client_id}']").count() == 1
    page.locator(f"tr[data-client-id='{client_id}'] a:has-text('Revoke')").click()
    page.click("button:has-text('Revoke access')")
    page.wait_for_url(f"{stack.url}{AUTHORIZED}?done=revoked**")
    notice = page.inner_text("p.notice")
    assert "Revoked Team Scheduler for the Whole Company." in notice and "stopped working" in notice
    assert page.locator(f"tr[data-client-id='{client_id}']").count() == 0
    p.check("authorized_apps_revoked")

    # Error pages (not signed-in pages: they are shown whoever asks).
    page.goto(stack.url + "/account/no-such-page")
    assert "Page not found" in page.inner_text("main")
    p.check("error_account_404", signed_in=False)
    page.goto(f"{stack.url}{DEVELOPER}/not-an-application")
    assert "Application not found" in page.inner_text("main")
    p.check("error_application_404", signed_in=False)
    page.goto(stack.url + "/oauth/authorize?" + urlencode({"response_type": "code", "client_id": "nope"}))
    p.check("error_authorize", signed_in=False)

    # Sign out works from every signed-in page.
    page.goto(p.authorize_url(client_id))  # consent again (revoked), for its sign-out
    page.wait_for_selector("button[name=decision][value=approve]")
    signed_in_pages = [
        p.authorize_url(client_id),
        stack.url + DEVELOPER,
        stack.url + DEVELOPER + "/new",
        f"{stack.url}{DEVELOPER}/{client_id}",
        f"{stack.url}{DEVELOPER}/{client_id}/delete",
        stack.url + AUTHORIZED,
    ]
    for url in signed_in_pages:
        page.goto(url)
        if "/oauth/login" in page.url:
            p.sign_in()
            page.wait_for_url(lambda u: "/oauth/login" not in u)
        assert "/oauth/login" not in page.url, url
        page.click("header.viewer button:has-text('Sign out')")
        page.wait_for_url(stack.url + "/oauth/login")
        page.goto(stack.url + AUTHORIZED)
        page.wait_for_url("**/oauth/login?**")  # signed out: the page asks to sign in again
    context.close()

    assert len(p.taken) == 16
    for name in p.taken:
        assert (shots / f"{name}.png").stat().st_size > 5_000, name
