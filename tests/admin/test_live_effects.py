"""What admin calls do to live tokens at the gateway: unticking, deletion, bulk and per-user revocation."""

from __future__ import annotations

import asyncio
import time

from gateway.errors import InvalidToken
from gateway.models import Authorization
from tests.admin.conftest import AUTH


async def _cleanup_done(env, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while any(t.get_name().startswith("cleanup-") for t in env.services.background):
        assert time.monotonic() < deadline, "clean-up did not finish"
        await asyncio.sleep(0.01)


async def test_unticked_scope_is_gone_from_a_live_token_at_once(env):
    cid = (await env.create())["client_id"]
    issued = await env.token(cid, scopes=("events:read", "contacts:read"))
    # Warm every cache: the token works on both routes.
    assert (await env.call(issued.access_token, "/v1/events")).status == 200
    assert (await env.call(issued.access_token, "/v1/contacts")).status == 200
    resp = await env.admin.patch(f"/admin/applications/{cid}", json={"scopes": ["contacts:read"]}, headers=AUTH)
    assert resp.status == 200
    # The very next request, no waiting (other processes: see test_multiprocess.py).
    resp = await env.call(issued.access_token, "/v1/events")
    assert resp.status == 403
    assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]
    assert 'scope="events:read"' in resp.headers["WWW-Authenticate"]
    ok = await env.call(issued.access_token, "/v1/contacts")
    assert ok.status == 200
    # What reached the upstream carries only the scope still ticked.
    principal = await env.services.validator.validate(issued.access_token)
    assert principal.scopes == frozenset({"contacts:read"})
    # Ticking it again restores it (the token was granted it; the application had unticked it).
    resp = await env.admin.patch(
        f"/admin/applications/{cid}", json={"scopes": ["events:read", "contacts:read"]}, headers=AUTH
    )
    assert resp.status == 200
    assert (await env.call(issued.access_token, "/v1/events")).status == 200


async def test_unticked_scope_is_gone_at_once_when_validating_directly(env):
    cid = (await env.create())["client_id"]
    issued = await env.token(cid, scopes=("events:read", "contacts:read"))
    validator = env.services.validator
    assert (await validator.validate(issued.access_token)).scopes == {"events:read", "contacts:read"}
    await env.admin.patch(f"/admin/applications/{cid}", json={"scopes": ["contacts:read"]}, headers=AUTH)
    assert (await validator.validate(issued.access_token)).scopes == {"contacts:read"}


async def test_delete_invalidates_tokens_secret_and_grants(env):
    created = await env.create()
    cid = created["client_id"]
    first = await env.token(cid, user_id="1001")
    second = await env.token(cid, user_id="2002", scopes=("events:read", "contacts:read"))
    other_cid = (await env.create(name="Other"))["client_id"]
    other = await env.token(other_cid)
    for t in (first, second, other):
        assert (await env.call(t.access_token)).status == 200
    resp = await env.admin.delete(f"/admin/applications/{cid}", headers=AUTH)
    assert resp.status == 200
    for t in (first, second):
        resp = await env.call(t.access_token)
        assert resp.status == 401
        assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    # Another application is untouched.
    assert (await env.call(other.access_token)).status == 200
    assert await env.services.store.secret_hashes(cid) == []
    await _cleanup_done(env)
    for t in (first, second):
        assert await env.services.store.get_grant(t.grant.grant_id) is None
        assert await env.services.store.get_refresh_token(t.grant.refresh_hash) is None
    assert await env.services.store.get_grant(other.grant.grant_id) is not None
    # A deleted application cannot be issued new tokens either.
    try:
        await env.token(cid)
    except InvalidToken:
        pass
    else:
        raise AssertionError("a grant was started for a deleted application")


async def test_new_application_never_revives_a_deleted_ones_tokens(env):
    cid = (await env.create())["client_id"]
    issued = await env.token(cid)
    await env.admin.delete(f"/admin/applications/{cid}", headers=AUTH)
    for _ in range(5):
        new = await env.create()
        assert new["client_id"] != cid
    assert (await env.call(issued.access_token)).status == 401


async def test_bulk_revocation_of_an_application(env):
    cid = (await env.create())["client_id"]
    a = await env.token(cid, user_id="1001")
    b = await env.token(cid, user_id="2002")
    other = await env.token((await env.create(name="Other"))["client_id"], user_id="1001")
    await env.services.store.record_authorization(Authorization("1001", cid, ("events:read",), time.time()))
    for t in (a, b, other):
        assert (await env.call(t.access_token)).status == 200
    resp = await env.admin.post("/admin/revocations", json={"client_id": cid}, headers=AUTH)
    assert resp.status == 200
    assert await resp.json() == {
        "revoked": "application",
        "client_id": cid,
        "user_id": None,
        "authorizations_removed": 1,
    }
    assert (await env.call(a.access_token)).status == 401
    assert (await env.call(b.access_token)).status == 401
    assert (await env.call(other.access_token)).status == 200
    # The application itself stays, and new grants work.
    assert (await env.admin.get(f"/admin/applications/{cid}", headers=AUTH)).status == 200
    fresh = await env.token(cid)
    assert (await env.call(fresh.access_token)).status == 200


async def test_bulk_revocation_of_a_user(env):
    c1 = (await env.create(name="One"))["client_id"]
    c2 = (await env.create(name="Two"))["client_id"]
    mine = [await env.token(c1, user_id="1001"), await env.token(c2, user_id="1001")]
    theirs = await env.token(c1, user_id="2002")
    for t in (*mine, theirs):
        assert (await env.call(t.access_token)).status == 200
    resp = await env.admin.post("/admin/revocations", json={"user_id": "1001"}, headers=AUTH)
    assert resp.status == 200
    assert (await resp.json())["revoked"] == "user"
    for t in mine:
        assert (await env.call(t.access_token)).status == 401
    assert (await env.call(theirs.access_token)).status == 200


async def test_bulk_revocation_of_one_user_and_application(env):
    c1 = (await env.create(name="One"))["client_id"]
    c2 = (await env.create(name="Two"))["client_id"]
    target = await env.token(c1, user_id="1001")
    same_user_other_app = await env.token(c2, user_id="1001")
    same_app_other_user = await env.token(c1, user_id="2002")
    await env.services.store.record_authorization(Authorization("1001", c1, ("events:read",), time.time()))
    for t in (target, same_user_other_app, same_app_other_user):
        assert (await env.call(t.access_token)).status == 200
    resp = await env.admin.post("/admin/revocations", json={"client_id": c1, "user_id": "1001"}, headers=AUTH)
    assert await resp.json() == {
        "revoked": "user_application",
        "client_id": c1,
        "user_id": "1001",
        "authorizations_removed": 1,
    }
    assert (await env.call(target.access_token)).status == 401
    assert (await env.call(same_user_other_app.access_token)).status == 200
    assert (await env.call(same_app_other_user.access_token)).status == 200


async def test_bulk_revocation_field_rules(env):
    for body, field in (
        ({}, "client_id"),
        ({"client_id": ""}, "client_id"),
        ({"user_id": 7}, "user_id"),
        ({"client_id": "nope"}, "client_id"),
        ({"tokens": "all"}, "tokens"),
    ):
        resp = await env.admin.post("/admin/revocations", json=body, headers=AUTH)
        assert resp.status == 422, body
        assert field in (await resp.json())["fields"]
    # Revoking a client id that does not exist must not bring a half application into being.
    assert await env.services.store.get_app("nope") is None
    resp = await env.admin.post(
        "/admin/revocations", data=b"nope", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert resp.status == 400


async def test_user_authorizations_list_and_revoke(env):
    c1 = (await env.create(name="One"))["client_id"]
    c2 = (await env.create(name="Two"))["client_id"]
    store = env.services.store
    await store.record_authorization(Authorization("1001", c1, ("events:read",), 1000.0))
    await store.record_authorization(Authorization("1001", c2, ("contacts:read", "events:read"), 2000.0))
    await store.touch_last_used("1001", c2, 3000.0)
    t1 = await env.token(c1)
    t2 = await env.token(c2)
    resp = await env.admin.get("/admin/users/1001/authorizations", headers=AUTH)
    assert resp.status == 200
    body = await resp.json()
    assert body["user_id"] == "1001"
    assert body["authorizations"] == [
        {
            "client_id": c1,
            "application_name": "One",
            "scopes": ["events:read"],
            "authorized_at": 1000.0,
            "last_used": None,
        },
        {
            "client_id": c2,
            "application_name": "Two",
            "scopes": ["contacts:read", "events:read"],
            "authorized_at": 2000.0,
            "last_used": 3000.0,
        },
    ]
    assert (await env.call(t1.access_token)).status == 200
    resp = await env.admin.delete(f"/admin/users/1001/authorizations/{c1}", headers=AUTH)
    assert resp.status == 200
    assert (await env.call(t1.access_token)).status == 401
    assert (await env.call(t2.access_token)).status == 200
    body = await (await env.admin.get("/admin/users/1001/authorizations", headers=AUTH)).json()
    assert [a["client_id"] for a in body["authorizations"]] == [c2]
    # Second time: nothing to revoke.
    assert (await env.admin.delete(f"/admin/users/1001/authorizations/{c1}", headers=AUTH)).status == 404
    body = await (await env.admin.get("/admin/users/nobody/authorizations", headers=AUTH)).json()
    assert body == {"user_id": "nobody", "authorizations": []}
