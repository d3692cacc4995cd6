"""The multi-key writes that must be atomic are one MULTI or one script each (issuance, application update,
secret rotation), on fakeredis (embedded mode) and on a real redis-server; and the one error-mapping table turns an
unreachable Redis into StoreUnavailable for every capability."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest
import redis.asyncio as aioredis

from gateway import applications
from gateway.errors import OAuthError, StoreUnavailable
from gateway.events import TokenRevoked
from gateway.issuance import continue_grant, start_grant
from gateway.models import AccessTokenRecord, Application, Authorization, RefreshTokenRecord
from gateway.security import Hasher
from gateway.store import keyspace as ks
from gateway.store.redis_store import RedisStore, connect
from tests.conftest import SECRET_KEY

CATALOG = ["events:read", "events:write"]
HASHER = Hasher(SECRET_KEY.encode())


@pytest.fixture(params=["fakeredis", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RedisStore]:
    url = "memory://" if request.param == "fakeredis" else request.getfixturevalue("redis_url")
    s = connect(url)
    await s.init_scopes(CATALOG)
    yield s
    await s.close()


async def new_app(store: RedisStore) -> Application:
    reg = await applications.register(
        store, HASHER, CATALOG, {"name": "A", "redirect_uri": "https://a.example/cb", "owner": "u1"}
    )
    return reg.application


async def test_update_app_writes_only_an_existing_application(store: RedisStore) -> None:
    app = await new_app(store)
    renamed = replace(app, name="B", scopes=("events:write",))
    assert await store.update_app(renamed) is True
    assert await store.get_app(app.client_id) == renamed
    assert await store.delete_app(app.client_id)
    assert await store.update_app(replace(renamed, name="C")) is False
    assert await store.get_app(app.client_id) is None
    assert await store._r.exists(ks.app(app.client_id)) == 0  # nothing recreated, not even briefly kept


async def test_rotate_secret_keeps_old_secrets_for_the_grace_only(store: RedisStore) -> None:
    app = await new_app(store)
    first = await store.secret_hashes(app.client_id)
    assert await store.rotate_secret(app.client_id, "h2", 3600)
    assert sorted(await store.secret_hashes(app.client_id)) == sorted([*first, "h2"])
    until = float(await store._r.hget(ks.app_secrets(app.client_id), first[0]))
    assert time.time() + 3500 < until < time.time() + 3700
    # A longer grace later never extends an old secret; a shorter one shortens it.
    assert await store.rotate_secret(app.client_id, "h3", 7200)
    assert float(await store._r.hget(ks.app_secrets(app.client_id), first[0])) == until
    assert await store.rotate_secret(app.client_id, "h4", 0)  # no grace: only the new secret
    assert await store.secret_hashes(app.client_id) == ["h4"]


async def test_rotate_secret_of_a_deleted_application_writes_nothing(store: RedisStore) -> None:
    app = await new_app(store)
    assert await store.delete_app(app.client_id)
    assert await store.rotate_secret(app.client_id, "h2", 60) is False
    assert await store._r.exists(ks.app_secrets(app.client_id)) == 0


async def test_issuance_and_refresh_write_grant_and_both_tokens(store: RedisStore) -> None:
    app = await new_app(store)
    issued = await start_grant(
        store, HASHER, client_id=app.client_id, user_id="u1", scopes=["events:read"], access_ttl=60, refresh_ttl=120
    )
    assert await store.get_grant(issued.grant.grant_id) == issued.grant
    assert await store._r.sismember(ks.app_grants(app.client_id), issued.grant.grant_id)
    assert await store.get_access_token(HASHER.hash(issued.access_token)) is not None
    assert (await store.get_refresh_token(issued.grant.refresh_hash)) == RefreshTokenRecord(
        issued.grant.grant_id, (await store.get_refresh_token(issued.grant.refresh_hash)).expires_at
    )  # type: ignore[union-attr]
    nxt = await continue_grant(store, HASHER, issued.grant, ["events:read"], access_ttl=60, refresh_ttl=120)
    assert (await store.get_grant(issued.grant.grant_id)) == nxt.grant
    assert await store.get_access_token(HASHER.hash(nxt.access_token)) is not None
    assert await store.get_refresh_token(nxt.grant.refresh_hash) is not None


async def test_refresh_never_recreates_a_revoked_grant(store: RedisStore) -> None:
    app = await new_app(store)
    issued = await start_grant(
        store, HASHER, client_id=app.client_id, user_id="u1", scopes=["events:read"], access_ttl=60, refresh_ttl=120
    )
    assert await store.revoke_grant(issued.grant.grant_id)
    with pytest.raises(OAuthError):
        await continue_grant(store, HASHER, issued.grant, ["events:read"], access_ttl=60, refresh_ttl=120)
    assert await store.get_grant(issued.grant.grant_id) is None


async def _commands(redis_url: str, coro_fn: Callable[[], Awaitable[object]]) -> dict[str, int]:
    probe = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        await probe.config_resetstat()
        await coro_fn()
        stats = await probe.info("commandstats")
    finally:
        await probe.aclose()
    return {name.removeprefix("cmdstat_"): row["calls"] for name, row in stats.items()}


async def test_each_atomic_write_is_one_multi_or_one_script(redis_url: str) -> None:
    store = connect(redis_url)
    try:
        await store.init_scopes(CATALOG)
        app = await new_app(store)
        epochs = await store.current_epochs_for("u1", app.client_id)
        assert epochs is not None

        async def issue() -> None:
            await start_grant(
                store,
                HASHER,
                client_id=app.client_id,
                user_id="u1",
                scopes=["events:read"],
                access_ttl=60,
                refresh_ttl=120,
            )

        await issue()  # loads the script (a first EVALSHA is answered NOSCRIPT, then it is loaded)
        calls = await _commands(redis_url, issue)
        # One script checks the application (and consent), reads the epochs and writes grant and both tokens
        # (the commands it runs are counted too, so only the outer calls are checked).
        assert calls.get("evalsha", 0) + calls.get("eval", 0) == 1, calls
        assert "multi" not in calls

        for write in (
            lambda: store.update_app(replace(app, name="B")),
            lambda: store.rotate_secret(app.client_id, "h2", 60),
        ):
            calls = await _commands(redis_url, write)
            assert calls.get("evalsha", 0) + calls.get("eval", 0) == 1, calls
            assert "multi" not in calls
    finally:
        await store.close()


async def test_an_unreachable_store_is_store_unavailable_everywhere() -> None:
    store = connect("redis://127.0.0.1:1/0", timeout=0.2)  # nothing listens on port 1
    now = int(time.time())
    at = AccessTokenRecord("g", "c", "u", frozenset(), now, now + 60)
    calls = [
        store.ping(),
        store.get_app("c"),
        store.update_app(Application("c", "n", "https://a.example/cb", True, (), "o", False, 1.0, 1.0)),
        store.rotate_secret("c", "h", 60),
        store.get_access_token("h"),
        store.validation_facts("g", "c", "u"),
        store.save_access_token("h", at),
        store.redeem_code("h"),
        store.list_authorizations("u"),
        store.revoke_user_app("u", "c"),
        store.hit_counter("n", "k", 60),
        store.get_ephemeral("n", "k"),
        store.append_audit({"action": "x"}),
        store.read_audit(),
        store.publish(TokenRevoked("h")),
        store.record_authorization(Authorization("u", "c", (), 1.0)),
    ]
    try:
        for call in calls:
            with pytest.raises(StoreUnavailable):
                await call
        await store.touch_last_used("u", "c", 1.0)  # best effort: logged, never an error
        assert await store.cleanup_app("c") == 0  # paused, retried by a later clean-up
    finally:
        await store.close()
