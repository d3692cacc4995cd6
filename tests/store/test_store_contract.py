"""The store contract, run on fakeredis (embedded mode), on a real redis-server, on a primary with a replica behind
three sentinels, and on a local Redis Cluster of 3 primaries with a replica each (on the last two, every
security-critical write waits for a replica: min_replicas_acked auto = 1)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from gateway import applications, events
from gateway.events import UserRevoked
from gateway.issuance import continue_grant, start_grant
from gateway.models import PendingCode
from gateway.security import Hasher, TokenKind, mint
from gateway.store.redis_store import RedisStore, connect
from tests.conftest import SECRET_KEY

CATALOG = ["events:read", "events:write", "contacts:read"]


@pytest.fixture(params=["fakeredis", "redis", "sentinel", "cluster"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RedisStore]:
    if request.param == "fakeredis":
        url = "memory://"
    elif request.param == "redis":
        url = request.getfixturevalue("redis_url")
    elif request.param == "cluster":
        cluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        url = cluster.url
    else:
        deployment = request.getfixturevalue("shared_sentinel_deployment")
        deployment.primary.flush()
        url = deployment.url
    s = connect(url)
    await s.init_scopes(CATALOG)
    if request.param in ("sentinel", "cluster"):
        # Every security-critical write waits for the replica (of its shard, on the cluster).
        assert await s.detect_replicas() == 1 and s.connection.required_acks == 1
    yield s
    await s.close()


HASHER = Hasher(SECRET_KEY.encode())


async def new_app(store: RedisStore, **fields: object) -> str:
    reg = await applications.register(
        store, HASHER, CATALOG, {"name": "A", "redirect_uri": "https://a.example/cb", "owner": "u1", **fields}
    )
    return reg.application.client_id


async def test_application_round_trip_and_secret_only_as_hash(store: RedisStore) -> None:
    reg = await applications.register(
        store,
        HASHER,
        CATALOG,
        {"name": "A", "redirect_uri": "https://a.example/cb", "owner": "u1", "scopes": ["events:read"]},
    )
    app = await store.get_app(reg.application.client_id)
    assert app == reg.application
    assert app.server_side and not app.published and app.scopes == ("events:read",)
    hashes = await store.secret_hashes(app.client_id)
    assert hashes == [HASHER.hash(reg.client_secret)]
    assert reg.client_secret not in str(hashes)


async def test_scopes_survive_encoding(store: RedisStore) -> None:
    assert store.scope_bits.decode(store.scope_bits.encode(["contacts:read", "events:read"])) == {
        "contacts:read",
        "events:read",
    }


async def test_tokens_are_stored_under_keyed_hashes(store: RedisStore) -> None:
    cid = await new_app(store)
    issued = await start_grant(
        store, HASHER, client_id=cid, user_id="u1", scopes=["events:read"], access_ttl=60, refresh_ttl=120
    )
    rec = await store.get_access_token(HASHER.hash(issued.access_token))
    assert rec is not None and rec.client_id == cid and rec.scopes == {"events:read"}
    assert rec.expires_at - rec.issued_at == 60
    assert await store.get_access_token(issued.access_token) is None  # raw value is never a key
    assert await store.get_access_token(HASHER.hash(issued.refresh_token)) is None  # separate key spaces
    assert (await store.get_refresh_token(HASHER.hash(issued.refresh_token))) is not None


async def test_code_is_redeemed_exactly_once(store: RedisStore) -> None:
    code = mint(TokenKind.CODE)
    h = HASHER.hash(code)
    pending = PendingCode("c", "u", "https://a.example/cb", ("events:read",), None, int(time.time()) + 60)
    await store.save_code(h, pending)
    assert await store.redeem_code(h) == pending
    assert await store.redeem_code(h) is None
    await store.mark_code_grant(h, "g1")
    assert await store.code_replay_grant(h) == "g1"


async def test_refresh_rotation_detects_reuse(store: RedisStore) -> None:
    cid = await new_app(store)
    issued = await start_grant(
        store, HASHER, client_id=cid, user_id="u1", scopes=["events:read"], access_ttl=60, refresh_ttl=120
    )
    rec, reused = await store.consume_refresh_token(HASHER.hash(issued.refresh_token))
    assert rec is not None and reused is None
    again, reused = await store.consume_refresh_token(HASHER.hash(issued.refresh_token))
    assert again is None and reused == issued.grant.grant_id
    nothing, unknown = await store.consume_refresh_token(HASHER.hash(mint(TokenKind.REFRESH)))
    assert nothing is None and unknown is None
    grant = await store.get_grant(issued.grant.grant_id)
    assert grant is not None
    nxt = await continue_grant(store, HASHER, grant, ["events:read"], access_ttl=60, refresh_ttl=120)
    assert (await store.get_grant(grant.grant_id)).refresh_hash == HASHER.hash(nxt.refresh_token)  # type: ignore[union-attr]


async def test_revocations_bump_epochs_without_scanning(store: RedisStore) -> None:
    cid = await new_app(store)
    issued = await start_grant(
        store, HASHER, client_id=cid, user_id="u1", scopes=["events:read"], access_ttl=60, refresh_ttl=120
    )
    g = issued.grant
    facts = await store.validation_facts(g.grant_id, cid, "u1")
    assert facts[0] == g and facts[1] is not None and facts[1].epoch == g.app_epoch
    await store.revoke_user_app("u1", cid)
    _, _, ua, _ = await store.validation_facts(g.grant_id, cid, "u1")
    assert ua == g.user_app_epoch + 1
    await store.revoke_user("u1")
    _, _, _, u = await store.validation_facts(g.grant_id, cid, "u1")
    assert u == g.user_epoch + 1
    await store.revoke_client(cid)
    _, state, _, _ = await store.validation_facts(g.grant_id, cid, "u1")
    assert state is not None and state.epoch == g.app_epoch + 1
    assert await store.delete_app(cid)
    _, state, _, _ = await store.validation_facts(g.grant_id, cid, "u1")
    assert state is None
    assert not await store.delete_app(cid)
    assert await store.cleanup_app(cid) == 1
    assert await store.get_grant(g.grant_id) is None
    assert await store.get_refresh_token(g.refresh_hash) is None


async def test_pubsub_delivers_revocations(store: RedisStore) -> None:
    import asyncio

    got: list[str] = []
    states: list[bool] = []
    task = asyncio.create_task(store.listen_revocations(got.append, states.append, liveness_timeout=0.4))
    try:
        for _ in range(100):
            if states:
                break
            await asyncio.sleep(0.01)
        await store.revoke_user("u9")
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert states[0] is True
    assert got and events.decode(got[0])[0] == UserRevoked("u9")


async def test_audit_is_append_only_newest_first(store: RedisStore) -> None:
    await store.append_audit({"action": "a", "n": 1})
    await store.append_audit({"action": "b", "n": 2})
    rows = await store.read_audit()
    assert [r["action"] for r in rows] == ["b", "a"]
    older = await store.read_audit(before=rows[0]["id"])
    assert [r["action"] for r in older] == ["a"]


async def test_counters_and_ephemeral_records(store: RedisStore) -> None:
    assert await store.hit_counter("f", "k", 60) == 1
    assert await store.hit_counter("f", "k", 60) == 2
    assert (await store.counter_value("f", "k"))[0] == 2
    await store.put_ephemeral("ns", "id", {"a": 1}, 60)
    assert await store.take_ephemeral("ns", "id") == {"a": 1}
    assert await store.take_ephemeral("ns", "id") is None


async def test_replay_during_redemption_makes_that_redemption_withdraw(store: RedisStore) -> None:
    code = HASHER.hash(mint(TokenKind.CODE))
    await store.save_code(
        code, PendingCode("c", "u", "https://a.example/cb", ("events:read",), None, int(time.time()) + 60)
    )
    assert await store.redeem_code(code) is not None  # first redemption, still minting
    assert await store.code_replay_grant(code) == ""  # a replay arrives meanwhile: refused, code flagged
    assert await store.mark_code_grant(code, "g1") is False  # so the first redemption must withdraw its grant
    other = HASHER.hash(mint(TokenKind.CODE))
    await store.save_code(other, PendingCode("c", "u", "https://a.example/cb", (), None, int(time.time()) + 60))
    await store.redeem_code(other)
    assert await store.mark_code_grant(other, "g2") is True
    assert await store.code_replay_grant(other) == "g2"


async def test_bulk_revocation_of_a_deleted_application_recreates_nothing(store: RedisStore) -> None:
    cid = await new_app(store)
    assert await store.delete_app(cid)
    assert await store.revoke_client(cid) == 0
    assert await store.get_app(cid) is None
    assert await store.app_state(cid) is None


async def test_concurrent_token_lookups_share_one_round_trip(redis_url: str) -> None:
    import asyncio

    import redis.asyncio as aioredis

    store = connect(redis_url)
    await store.init_scopes(CATALOG)
    cid = await new_app(store)
    issued = [
        await start_grant(
            store, HASHER, client_id=cid, user_id=f"u{i}", scopes=["events:read"], access_ttl=60, refresh_ttl=120
        )
        for i in range(20)
    ]
    probe = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await probe.config_resetstat()
    hashes = [HASHER.hash(t.access_token) for t in issued] + [HASHER.hash(mint(TokenKind.ACCESS))]
    records = await asyncio.gather(*(store.get_access_token(h) for h in hashes))
    stats = await probe.info("commandstats")
    await probe.aclose()
    await store.close()
    assert [r.user_id if r else None for r in records] == [f"u{i}" for i in range(20)] + [None]
    assert stats["cmdstat_mget"]["calls"] == 1  # 21 lookups, one MGET
    assert "cmdstat_get" not in stats
