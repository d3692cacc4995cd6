"""The audit record: every admin change, who (admin token index) and when, append-only, never a secret."""

from __future__ import annotations

import time

from gateway.models import Authorization
from tests.admin.conftest import AUTH
from tests.conftest import ADMIN_TOKEN


async def _events(env, **params):
    resp = await env.admin.get("/admin/audit", params=params, headers=AUTH)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_every_change_is_recorded_with_actor_and_time(env):
    started = time.time()
    created = await env.create()
    cid, secret = created["client_id"], created["client_secret"]
    await env.admin.patch(
        f"/admin/applications/{cid}", json={"name": "Renamed", "scopes": ["events:read"]}, headers=AUTH
    )
    rotated = await (await env.admin.post(f"/admin/applications/{cid}/secret", headers=AUTH)).json()
    await env.services.store.record_authorization(Authorization("1001", cid, ("events:read",), time.time()))
    await env.admin.post("/admin/revocations", json={"user_id": "2002"}, headers=AUTH)
    await env.admin.delete(f"/admin/users/1001/authorizations/{cid}", headers=AUTH)
    await env.admin.delete(f"/admin/applications/{cid}", headers={**AUTH, "X-On-Behalf-Of": "portal-user-42"})
    body = await _events(env)
    events = list(reversed(body["events"]))  # oldest first
    actions = [e["action"] for e in events if e["action"] != "application.cleaned_up"]
    assert actions == [
        "application.created",
        "application.updated",
        "application.secret_rotated",
        "revocation.bulk",
        "authorization.revoked",
        "application.deleted",
    ]
    for e in events:
        assert e["actor"] == "admin-token-0"
        assert started - 1 <= e["ts"] <= time.time() + 1
        assert e["id"]
    by_action = {e["action"]: e for e in events}
    assert by_action["application.created"]["client_id"] == cid
    assert by_action["application.created"]["owner"] == "1001"
    assert by_action["application.updated"]["changes"]["name"] == {"from": "Acme Scheduler", "to": "Renamed"}
    assert by_action["application.updated"]["changes"]["scopes"]["to"] == ["events:read"]
    assert by_action["revocation.bulk"]["user_id"] == "2002"
    assert by_action["authorization.revoked"]["user_id"] == "1001"
    assert by_action["application.deleted"]["on_behalf_of"] == "portal-user-42"
    assert "on_behalf_of" not in by_action["application.created"]
    text = str(body)
    for secret_value in (secret, rotated["client_secret"], ADMIN_TOKEN):
        assert secret_value not in text


async def test_paging_newest_first(env):
    for i in range(5):
        await env.create(name=f"App {i}")
    first = await _events(env, limit=2)
    assert [e["name"] for e in first["events"]] == ["App 4", "App 3"]
    assert first["next"] == first["events"][-1]["id"]
    second = await _events(env, limit=2, before=first["next"])
    assert [e["name"] for e in second["events"]] == ["App 2", "App 1"]
    third = await _events(env, limit=2, before=second["next"])
    assert [e["name"] for e in third["events"]] == ["App 0"]
    assert third["next"] is None


async def test_paging_parameters_are_checked(env):
    for params, field in (
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"limit": "5000"}, "limit"),
        ({"before": "yesterday"}, "before"),
    ):
        resp = await env.admin.get("/admin/audit", params=params, headers=AUTH)
        assert resp.status == 422
        assert field in (await resp.json())["fields"]


async def test_refused_and_invalid_calls_leave_no_record(env):
    await env.admin.post("/admin/applications", json={"name": ""}, headers=AUTH)
    await env.admin.delete("/admin/applications/nope", headers=AUTH)
    await env.admin.post("/admin/applications", json={"name": "x"})
    assert (await _events(env))["events"] == []


async def test_audit_is_append_only_over_the_api(env):
    await env.create()
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        resp = await env.admin.request(method, "/admin/audit", headers=AUTH, json={})
        assert resp.status == 405
    assert len((await _events(env))["events"]) == 1
