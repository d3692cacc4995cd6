"""Admin API: redirect URIs are validated once and stored normalized (create and edit refuse every bad character
class with 422 naming `redirect_uri`), and a JSON body nested too deeply is a 400, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.admin.conftest import AUTH, NEW_APP
from tests.unit.test_redirect_uri import BAD, GOOD

JSON_HEADERS = {**AUTH, "Content-Type": "application/json"}


@pytest.mark.parametrize(("uri", "why"), BAD)
async def test_bad_redirect_uri_is_refused_on_create_and_edit(env: Any, uri: str, why: str) -> None:
    resp = await env.admin.post("/admin/applications", json={**NEW_APP, "redirect_uri": uri}, headers=AUTH)
    assert resp.status == 422, await resp.text()
    body = await resp.json()
    assert body["error"] == "invalid"
    assert list(body["fields"]) == ["redirect_uri"]
    assert why in body["fields"]["redirect_uri"]
    assert await env.services.store.list_apps() == []

    created = await env.create()
    resp = await env.admin.patch(
        f"/admin/applications/{created['client_id']}", json={"redirect_uri": uri}, headers=AUTH
    )
    assert resp.status == 422, await resp.text()
    body = await resp.json()
    assert list(body["fields"]) == ["redirect_uri"] and why in body["fields"]["redirect_uri"]
    app = await env.services.store.get_app(created["client_id"])
    assert app is not None and app.redirect_uri == NEW_APP["redirect_uri"]


@pytest.mark.parametrize("value", [None, 5, ["https://acme.example/cb"], {"uri": "https://acme.example/cb"}])
async def test_non_string_redirect_uri_is_422(env: Any, value: object) -> None:
    resp = await env.admin.post("/admin/applications", json={**NEW_APP, "redirect_uri": value}, headers=AUTH)
    assert resp.status == 422
    assert list((await resp.json())["fields"]) == ["redirect_uri"]


@pytest.mark.parametrize(("uri", "normalized"), GOOD)
async def test_good_redirect_uri_is_stored_normalized(env: Any, uri: str, normalized: str) -> None:
    created = await env.create(redirect_uri=uri)
    assert created["redirect_uri"] == normalized
    app = await env.services.store.get_app(created["client_id"])
    assert app is not None and app.redirect_uri == normalized
    resp = await env.admin.get(f"/admin/applications/{created['client_id']}", headers=AUTH)
    assert (await resp.json())["redirect_uri"] == normalized

    other = await env.create()
    resp = await env.admin.patch(f"/admin/applications/{other['client_id']}", json={"redirect_uri": uri}, headers=AUTH)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["redirect_uri"] == normalized
    app = await env.services.store.get_app(other["client_id"])
    assert app is not None and app.redirect_uri == normalized


# --- deeply nested JSON -----------------------------------------------------------------------------------------


DEEP_BODIES = [
    b"[" * 100_000,
    b"{" * 100_000,
    b'{"name": ' + b"[" * 100_000,
    b'{"name": "x", "scopes": ' + b"[" * 40 + b"]" * 40 + b"}",  # well-formed, only too deep
    b'{"name": ' * 20_000,
]


@pytest.mark.parametrize("raw", DEEP_BODIES)
async def test_deeply_nested_json_is_400_on_create_and_edit(env: Any, raw: bytes) -> None:
    resp = await env.admin.post("/admin/applications", data=raw, headers=JSON_HEADERS)
    assert resp.status == 400, await resp.text()
    body = await resp.json()
    assert body["error"] == "bad_request"
    assert "levels" in body["error_description"] or "not valid JSON" in body["error_description"]
    assert await env.services.store.list_apps() == []

    created = await env.create()
    resp = await env.admin.patch(f"/admin/applications/{created['client_id']}", data=raw, headers=JSON_HEADERS)
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"] == "bad_request"
    resp = await env.admin.post("/admin/revocations", data=raw, headers=JSON_HEADERS)
    assert resp.status == 400, await resp.text()
    app = await env.services.store.get_app(created["client_id"])
    assert app is not None and app.name == NEW_APP["name"]


async def test_well_formed_but_too_deep_says_so(env: Any) -> None:
    raw = b'{"name": "x", "scopes": ' + b"[" * 40 + b"]" * 40 + b"}"
    resp = await env.admin.post("/admin/applications", data=raw, headers=JSON_HEADERS)
    assert resp.status == 400
    assert "32 levels" in (await resp.json())["error_description"]


async def test_shallow_nesting_is_still_a_field_error(env: Any) -> None:
    raw = b'{"name": "x", "redirect_uri": "https://acme.example/cb", "owner": "1001", "scopes": ' + (
        b"[" * 10 + b"]" * 10 + b"}"
    )
    resp = await env.admin.post("/admin/applications", data=raw, headers=JSON_HEADERS)
    assert resp.status == 422
    assert list((await resp.json())["fields"]) == ["scopes"]
