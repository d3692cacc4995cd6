"""Authorized Applications: list and revoke for the logged-in user (session + CSRF), JSON and HTML."""

from __future__ import annotations

import re
from typing import Any

from tests.oauth.helpers import consent_page, full_flow, login, register

JSON = {"Accept": "application/json"}


async def listing(client: Any) -> dict[str, Any]:
    resp = await client.get("/account/authorized-applications", headers=JSON)
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = await resp.json()
    return body


async def test_requires_a_session(gw: Any) -> None:
    client, _ = gw
    resp = await client.get("/account/authorized-applications", headers=JSON)
    assert resp.status == 401
    resp = await client.post("/account/authorized-applications/abc/revoke", headers=JSON)
    assert resp.status == 401


async def test_lists_rows_with_name_scopes_and_times(gw: Any) -> None:
    client, services = gw
    reg = await register(services, name="Calendar Sync")
    await login(client)
    body = await full_flow(client, reg, scope="events:read contacts:read")
    listed = await listing(client)
    [row] = listed["applications"]
    assert row["client_id"] == reg.client_id and row["name"] == "Calendar Sync"
    assert row["scopes"] == ["contacts:read", "events:read"]
    assert isinstance(row["authorized_at"], float)
    assert row["last_used"] is None
    await client.get("/v1/events", headers={"Authorization": f"Bearer {body['access_token']}"})
    for _ in range(100):
        row = (await listing(client))["applications"][0]
        if row["last_used"] is not None:
            break
        import asyncio

        await asyncio.sleep(0.01)
    assert row["last_used"] is not None


async def test_other_users_rows_are_not_shown(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    await full_flow(client, reg, scope="events:read")
    await login(client, "alice", "alice-password-1")
    assert (await listing(client))["applications"] == []


async def test_revoke_needs_csrf_then_kills_tokens_and_requires_consent_again(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    body = await full_flow(client, reg, scope="events:read")
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await client.get("/v1/events", headers=bearer)).status == 200
    path = f"/account/authorized-applications/{reg.client_id}/revoke"
    resp = await client.post(path, headers=JSON)
    assert resp.status == 403
    resp = await client.post(path, headers={**JSON, "X-CSRF-Token": "forged"})
    assert resp.status == 403
    assert (await client.get("/v1/events", headers=bearer)).status == 200

    csrf = (await listing(client))["csrf_token"]
    resp = await client.post(path, headers={**JSON, "X-CSRF-Token": csrf})
    assert resp.status == 200 and (await resp.json())["revoked"] is True
    assert (await client.get("/v1/events", headers=bearer)).status == 401
    assert (await listing(client))["applications"] == []
    events = await services.store.read_audit()
    assert any(e.get("action") == "authorization.revoked" and e.get("client_id") == reg.client_id for e in events)
    # Consent is asked again.
    await consent_page(client, reg, scope="events:read")
    # A second revoke finds nothing.
    resp = await client.post(path, headers={**JSON, "X-CSRF-Token": csrf})
    assert resp.status == 404


async def test_html_page_lists_and_revokes_with_a_form(gw: Any) -> None:
    client, services = gw
    reg = await register(services, name="Calendar <Sync>")
    await login(client)
    await full_flow(client, reg, scope="events:read")
    resp = await client.get("/account/authorized-applications", headers={"Accept": "text/html"})
    assert resp.status == 200 and resp.content_type == "text/html"
    assert resp.headers["X-Frame-Options"] == "DENY"
    html = await resp.text()
    assert "Calendar &lt;Sync&gt;" in html and "events:read" in html
    assert "View your calendar events" in html  # the scope's description, not only its name
    assert "Your account" in html and "You (demo)" in html  # Account and Authorized by
    # Revoke is two steps: the button is a link to a confirmation page; nothing is revoked by GET.
    link = re.search(r'<a class="button secondary" href="([^"]+/revoke)"', html)
    assert link
    resp = await client.get(link.group(1), headers={"Accept": "text/html"})
    assert resp.status == 200
    confirm = await resp.text()
    assert "Revoke Calendar &lt;Sync&gt;?" in confirm and "every token it holds for your account" in confirm
    assert await services.store.get_authorization("1001", reg.client_id) is not None
    m = re.search(
        r'<form method="post" action="([^"]+/revoke)">\n<input type="hidden" name="csrf" value="([^"]+)">', confirm
    )
    assert m
    resp = await client.post(m.group(1), data={"csrf": "forged"}, allow_redirects=False)
    assert resp.status == 403
    resp = await client.post(m.group(1), data={"csrf": m.group(2)}, allow_redirects=False)
    assert resp.status == 303
    assert await services.store.get_authorization("1001", reg.client_id) is None
    # ... and the list says what happened.
    resp = await client.get(resp.headers["Location"], headers={"Accept": "text/html"})
    notice = await resp.text()
    assert "Revoked Calendar &lt;Sync&gt;. Its tokens for your account stopped working" in notice
    assert "You have not authorized any application." in notice


async def test_html_page_without_session_redirects_to_login(gw: Any) -> None:
    client, _ = gw
    resp = await client.get("/account/authorized-applications", headers={"Accept": "text/html"}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/oauth/login?next=")
