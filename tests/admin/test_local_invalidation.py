"""The process that makes a change drops its own cached facts before it answers, whichever door the change came
through: with pub/sub delivering nothing (published events are captured instead), a revoke from Authorized
Applications and one from the admin API both refuse the token on the very next request, and publish the same
typed event."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from gateway import events
from gateway.events import ApplicationChanged, Revocation, UserApplicationRevoked
from gateway.models import Authorization
from tests.admin.conftest import AUTH
from tests.oauth.helpers import STATIC_LOGIN, login


async def _setup(make_admin: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str, str, list[Revocation]]:
    env = await make_admin(login=STATIC_LOGIN)
    cid = (await env.create())["client_id"]
    issued = await env.token(cid)
    await env.services.store.record_authorization(Authorization("1001", cid, ("events:read",), time.time()))
    for _ in range(500):
        if env.services.validator.subscribed:
            break
        await asyncio.sleep(0.01)
    assert env.services.validator.subscribed  # else nothing is cached and the test would prove nothing
    for _ in range(3):
        assert (await env.call(issued.access_token)).status == 200  # facts cached in this process
    published: list[Revocation] = []

    def capture(event: Revocation) -> list[str]:
        published.append(event)
        return ["sg:test:void", events.encode(event, time.time())]

    # From here no message reaches any subscriber (the write scripts publish on a channel nobody listens to): only
    # the local invalidation can drop the cached facts.
    monkeypatch.setattr(env.services.store.revocations, "announcement", capture)
    return env, cid, issued.access_token, published


async def test_authorized_applications_revoke_drops_the_local_cache(make_admin, monkeypatch):
    env, cid, token, published = await _setup(make_admin, monkeypatch)
    await login(env.public)
    listing = await env.public.get("/account/authorized-applications", headers={"Accept": "application/json"})
    csrf = (await listing.json())["csrf_token"]
    resp = await env.public.post(f"/account/authorized-applications/{cid}/revoke", headers={"X-CSRF-Token": csrf})
    assert resp.status == 200, await resp.text()
    assert published == [UserApplicationRevoked("1001", cid)]
    assert (await env.call(token)).status == 401


async def test_admin_revoke_drops_the_local_cache(make_admin, monkeypatch):
    env, cid, token, published = await _setup(make_admin, monkeypatch)
    resp = await env.admin.delete(f"/admin/users/1001/authorizations/{cid}", headers=AUTH)
    assert resp.status == 200, await resp.text()
    assert published == [UserApplicationRevoked("1001", cid)]
    assert (await env.call(token)).status == 401


async def test_developer_page_delete_drops_the_local_cache(make_admin, monkeypatch):
    env, cid, token, published = await _setup(make_admin, monkeypatch)
    await login(env.public)
    listing = await env.public.get("/account/developer/applications", headers={"Accept": "application/json"})
    csrf = (await listing.json())["csrf_token"]
    resp = await env.public.delete(f"/account/developer/applications/{cid}", headers={"X-CSRF-Token": csrf})
    assert resp.status == 200, await resp.text()
    assert published == [ApplicationChanged(cid)]
    assert (await env.call(token)).status == 401
