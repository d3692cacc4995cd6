"""The consent decision: bound to the session and the server-side pending request, CSRF-checked, single use."""

from __future__ import annotations

from typing import Any

from tests.oauth.helpers import ISSUER, SecondBrowser, approve, consent_page, field, login, query_of, register


async def test_deny_redirects_access_denied_with_state_and_iss(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    location = await approve(client, await consent_page(client, reg), decision="deny")
    q = query_of(location)
    assert q["error"] == "access_denied" and q["state"] == "st-123" and q["iss"] == ISSUER
    assert await services.store.get_authorization("1001", reg.client_id) is None


async def test_wrong_csrf_is_refused_and_grants_nothing(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    html = await consent_page(client, reg)
    resp = await client.post(
        "/oauth/consent",
        data={"request_id": field(html, "request_id"), "csrf": "forged", "decision": "approve"},
        allow_redirects=False,
    )
    assert resp.status == 403 and "Location" not in resp.headers
    assert await services.store.get_authorization("1001", reg.client_id) is None


async def test_missing_csrf_is_refused(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    html = await consent_page(client, reg)
    resp = await client.post(
        "/oauth/consent", data={"request_id": field(html, "request_id"), "decision": "approve"}, allow_redirects=False
    )
    assert resp.status == 403


async def test_added_hidden_fields_change_nothing(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    html = await consent_page(client, reg, scope="events:read")
    resp = await client.post(
        "/oauth/consent",
        data={
            "request_id": field(html, "request_id"),
            "csrf": field(html, "csrf"),
            "decision": "approve",
            "scope": "contacts:read messaging:send",
            "redirect_uri": "https://evil.example/cb",
            "client_id": "other",
            "state": "forged",
            "user_id": "2002",
        },
        allow_redirects=False,
    )
    assert resp.status == 303
    location = resp.headers["Location"]
    assert location.startswith("https://client.example/cb?")
    assert query_of(location)["state"] == "st-123"
    auth = await services.store.get_authorization("1001", reg.client_id)
    assert auth is not None and auth.scopes == ("events:read",)
    assert await services.store.get_authorization("2002", reg.client_id) is None


async def test_decision_is_single_use(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    html = await consent_page(client, reg)
    await approve(client, html)
    resp = await client.post(
        "/oauth/consent",
        data={"request_id": field(html, "request_id"), "csrf": field(html, "csrf"), "decision": "approve"},
        allow_redirects=False,
    )
    assert resp.status == 400 and "Location" not in resp.headers


async def test_pending_request_of_another_session_is_refused(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    victim_html = await consent_page(client, reg)
    # An attacker with their own session tries to answer the victim's pending request with their own CSRF token.
    other: Any = SecondBrowser(client)
    try:
        await login(other, "alice", "alice-password-1")
        attacker_html = await consent_page(other, reg)
        resp = await other.post(
            "/oauth/consent",
            data={
                "request_id": field(victim_html, "request_id"),
                "csrf": field(attacker_html, "csrf"),
                "decision": "approve",
            },
            allow_redirects=False,
        )
        assert resp.status == 403
    finally:
        await other.close()
    assert await services.store.get_authorization("2002", reg.client_id) is None


async def test_consent_without_session_is_refused(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    html = await consent_page(client, reg)
    client.session.cookie_jar.clear()
    resp = await client.post(
        "/oauth/consent",
        data={"request_id": field(html, "request_id"), "csrf": field(html, "csrf"), "decision": "approve"},
        allow_redirects=False,
    )
    assert resp.status == 400 and "Location" not in resp.headers


async def test_consent_page_escapes_the_application_name(gw: Any) -> None:
    client, services = gw
    reg = await register(services, name="<script>alert(1)</script>")
    await login(client)
    html = await consent_page(client, reg)
    assert "<script>" not in html and "&lt;script&gt;" in html


async def test_unticked_between_page_and_approval_is_not_granted(gw: Any) -> None:
    from gateway import applications

    client, services = gw
    reg = await register(services, scopes=["events:read", "contacts:read"])
    await login(client)
    html = await consent_page(client, reg)
    await applications.edit(services.store, list(services.settings.scopes), reg.client_id, {"scopes": ["events:read"]})
    await approve(client, html)
    auth = await services.store.get_authorization("1001", reg.client_id)
    assert auth is not None and auth.scopes == ("events:read",)


async def test_consent_posts_with_wrong_content_type_are_refused(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    html = await consent_page(client, reg)
    resp = await client.post(
        "/oauth/consent",
        json={"request_id": field(html, "request_id"), "csrf": field(html, "csrf"), "decision": "approve"},
        allow_redirects=False,
    )
    assert resp.status == 400
