"""Admin authentication: a configured bearer token, compared in constant time; fail closed without one."""

from __future__ import annotations

import pytest

from admin.auth import match_admin_token
from tests.admin.conftest import AUTH, NEW_APP
from tests.conftest import ADMIN_TOKEN

PATHS = [
    ("GET", "/admin/applications"),
    ("POST", "/admin/applications"),
    ("GET", "/admin/applications/abc"),
    ("PATCH", "/admin/applications/abc"),
    ("DELETE", "/admin/applications/abc"),
    ("POST", "/admin/applications/abc/secret"),
    ("POST", "/admin/revocations"),
    ("GET", "/admin/users/1001/authorizations"),
    ("DELETE", "/admin/users/1001/authorizations/abc"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/openapi.json"),
]


@pytest.mark.parametrize(("method", "path"), PATHS)
async def test_every_path_needs_the_admin_token(env, method, path):
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
    ):
        resp = await env.admin.request(method, path, headers=headers, json=NEW_APP)
        assert resp.status == 401, (headers, await resp.text())
        assert resp.headers["WWW-Authenticate"].startswith("Bearer ")
    # Nothing was created by the refused calls.
    assert await env.services.store.list_apps() == []


async def test_right_token_is_accepted_and_wrong_one_named_in_challenge(env):
    resp = await env.admin.get("/admin/applications", headers=AUTH)
    assert resp.status == 200
    assert await resp.json() == {"applications": []}
    resp = await env.admin.get("/admin/applications", headers={"Authorization": "Bearer not-the-admin-token"})
    assert resp.status == 401
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    resp = await env.admin.get("/admin/applications")
    assert resp.status == 401
    assert "error=" not in resp.headers["WWW-Authenticate"]  # RFC 6750 §3.1: no error code without credentials


async def test_no_admin_token_configured_fails_closed(make_admin):
    env = await make_admin(env={"SCOPEGATE_ADMIN_TOKEN": ""})
    assert env.services.settings.admin_tokens == ()
    for method, path in PATHS:
        for headers in ({}, {"Authorization": "Bearer "}, AUTH):
            resp = await env.admin.request(method, path, headers=headers)
            assert resp.status == 401, (method, path, headers)


async def test_several_tokens_for_rotation_and_audit_names_the_index_not_the_token(make_admin):
    second = "second-admin-token-abcdefghij"
    env = await make_admin(env={"SCOPEGATE_ADMIN_TOKEN": f"{ADMIN_TOKEN},{second}"})
    resp = await env.admin.post("/admin/applications", json=NEW_APP, headers={"Authorization": f"Bearer {second}"})
    assert resp.status == 201
    resp = await env.admin.get("/admin/audit", headers=AUTH)
    text = await resp.text()
    events = (await resp.json())["events"]
    assert events[0]["action"] == "application.created"
    assert events[0]["actor"] == "admin-token-1"
    assert second not in text and ADMIN_TOKEN not in text


def test_match_admin_token():
    assert match_admin_token("a" * 20, ["b" * 20, "a" * 20]) == 1
    assert match_admin_token("a" * 20, ["a" * 20, "a" * 20]) == 0
    assert match_admin_token("a" * 19, ["a" * 20]) is None
    assert match_admin_token("", ["a" * 20]) is None
    assert match_admin_token("anything", []) is None
    assert match_admin_token("ünïcode-token-xyz", ["ünïcode-token-xyz"]) == 0


async def test_admin_paths_are_not_on_the_public_listener(env):
    resp = await env.public.get("/admin/applications", headers=AUTH)
    assert resp.status == 404
    resp = await env.public.post("/admin/applications", json=NEW_APP, headers=AUTH)
    assert resp.status == 404
    assert await env.services.store.list_apps() == []


async def test_metrics_is_the_one_open_path(make_admin):
    for env_vars in (None, {"SCOPEGATE_ADMIN_TOKEN": ""}):
        env = await make_admin(env=env_vars)
        resp = await env.admin.get("/metrics")
        assert resp.status == 200
        assert "scopegate_requests_total" in await resp.text()
