"""Durable before acknowledged: every security-critical write is followed by WAIT on the connection that wrote it,
and is refused (503, StoreUnavailable with the reason) when fewer replicas than required confirmed it; retrying after
the replicas are back succeeds. On a real primary with a real replica (redis-server binaries)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from gateway import applications
from gateway.errors import StoreUnavailable
from gateway.issuance import start_grant
from gateway.models import Authorization, PendingCode
from gateway.security import Hasher, TokenKind, mint
from gateway.store import keyspace as ks
from gateway.store.options import StoreOptions
from gateway.store.redis.client import NotAcknowledged
from gateway.store.redis_store import RedisStore, connect
from tests.admin.conftest import AUTH, NEW_APP
from tests.conftest import SECRET_KEY, RedisServer
from tests.store.procs import Replica, command

CATALOG = ["events:read", "events:write"]
HASHER = Hasher(SECRET_KEY.encode())

pytestmark = pytest.mark.slow


@pytest.fixture
def primary() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    if server.proc is not None:
        server.proc.kill()
        server.proc.wait(10)


@pytest.fixture
def replica(primary: RedisServer) -> Iterator[Replica]:
    r = Replica(primary.port)
    r.start()
    yield r
    r.kill()


async def _store(url: str, **options: Any) -> RedisStore:
    store = connect(url, options=StoreOptions(**options))
    await store.init_scopes(CATALOG)
    return store


async def _app(store: RedisStore) -> str:
    reg = await applications.register(
        store, HASHER, CATALOG, {"name": "A", "redirect_uri": "https://a.example/cb", "owner": "u1"}
    )
    return reg.application.client_id


@pytest.fixture
async def store_and_replica(primary: RedisServer, replica: Replica) -> AsyncIterator[tuple[RedisStore, Replica]]:
    store = await _store(primary.url, min_replicas_acked=1, ack_timeout=0.1)
    yield store, replica
    replica.thaw()
    await store.close()


async def test_automatic_requirement_follows_the_deployment(primary: RedisServer) -> None:
    store = await _store(primary.url)  # min_replicas_acked: auto
    try:
        assert await store.detect_replicas() == 0
        assert store.connection.required_acks == 0  # a single server: nothing to wait for
        replica = Replica(primary.port)
        replica.start()
        try:
            assert await store.detect_replicas() == 1
            assert store.connection.required_acks == 1
            replica.kill()
            for _ in range(100):
                if await store.detect_replicas() == 0:
                    break
                await asyncio.sleep(0.05)
            # A replica that drops out does not turn durable writes into primary-only ones.
            assert store.connection.required_acks == 1
            with pytest.raises(NotAcknowledged):
                await store.revoke_user("u1")
        finally:
            replica.kill()
    finally:
        await store.close()


async def test_every_security_critical_write_waits_and_is_refused_without_the_replica(
    store_and_replica: tuple[RedisStore, Replica],
) -> None:
    store, replica = store_and_replica
    cid = await _app(store)
    await store.record_authorization(Authorization("u1", cid, ("events:read",), time.time()))
    issued = await start_grant(
        store,
        HASHER,
        client_id=cid,
        user_id="u1",
        scopes=["events:read"],
        access_ttl=60,
        refresh_ttl=120,
        require_consent=True,
    )
    code = HASHER.hash(mint(TokenKind.CODE))
    await store.save_code(
        code, PendingCode(cid, "u1", "https://a.example/cb", ("events:read",), None, int(time.time()) + 60)
    )

    replica.freeze()
    writes = {
        "consume_refresh_token": lambda: store.consume_refresh_token(issued.grant.refresh_hash),
        "redeem_code": lambda: store.redeem_code(code),
        "revoke_user": lambda: store.revoke_user("u1"),
        "revoke_user_app": lambda: store.revoke_user_app("u1", cid),
        "revoke_client": lambda: store.revoke_client(cid),
        "revoke_grant": lambda: store.revoke_grant(issued.grant.grant_id),
        "revoke_access_token": lambda: store.revoke_access_token(HASHER.hash(issued.access_token)),
        "rotate_secret": lambda: store.rotate_secret(cid, "h2", 0),
        "delete_app": lambda: store.delete_app(cid),
    }
    for name, write in writes.items():
        started = time.perf_counter()
        with pytest.raises(StoreUnavailable) as caught:
            await write()
        assert caught.value.reason == "replicas_not_acked", name
        assert time.perf_counter() - started < 1.0, name  # bounded by redis.ack_timeout, not hung
        if name == "redeem_code":
            # The single-use takes were undone, so the client's retry is not mistaken for a replay.
            assert await store._r.exists(ks.refresh_token(issued.grant.refresh_hash)) == 1
            assert await store._r.exists(ks.code(code)) == 1
            assert await store._r.exists(ks.refresh_used(issued.grant.refresh_hash)) == 0

    replica.catch_up()
    # Retried after recovery, each succeeds (every write is safe to run again).
    record, reused = await store.consume_refresh_token(issued.grant.refresh_hash)
    # the grant was revoked above (its refresh token, pointing at it, is useless even where it is left to expire)
    assert reused is None and (record is None or await store.get_grant(record.grant_id) is None)
    assert await store.redeem_code(code) is not None
    await store.revoke_user("u1")
    await store.revoke_user_app("u1", cid)
    await store.rotate_secret(cid, "h3", 0)
    assert await store.revoke_grant(issued.grant.grant_id) is False  # already gone: announced again, confirmed
    assert await store.delete_app(cid) is False  # already gone: announced again, confirmed
    # What the primary acknowledged is on the replica.
    assert command(replica.port, "EXISTS", ks.app(cid)) == b":0\r\n"
    assert command(replica.port, "GET", ks.user_epoch("u1")).startswith(b"$")


async def test_retried_delete_republishes(store_and_replica: tuple[RedisStore, Replica]) -> None:
    store, _ = store_and_replica
    cid = await _app(store)
    got: list[str] = []
    states: list[bool] = []
    task = asyncio.create_task(store.listen_revocations(got.append, states.append, liveness_timeout=0.4))
    try:
        for _ in range(200):
            if states:
                break
            await asyncio.sleep(0.01)
        assert await store.delete_app(cid) is True
        assert await store.delete_app(cid) is False
        for _ in range(200):
            if len(got) >= 2:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(got) == 2 and all(cid in m for m in got)


async def test_admin_answers_503_while_unconfirmed_and_the_retry_succeeds(
    primary: RedisServer,
    replica: Replica,
    make_gateway: Any,
    echo_upstream: Any,
    aiohttp_client: Any,
) -> None:
    from admin.app import build_admin_app

    public, services = await make_gateway(
        echo_upstream.url, redis_url=primary.url, redis={"min_replicas_acked": 1, "ack_timeout": 0.1}
    )
    admin = await aiohttp_client(build_admin_app(services))
    created = await (await admin.post("/admin/applications", json=NEW_APP, headers=AUTH)).json()
    cid = created["client_id"]
    issued = await start_grant(
        services.store,
        services.hasher,
        client_id=cid,
        user_id="1001",
        scopes=["events:read"],
        access_ttl=3600,
        refresh_ttl=86400,
    )
    bearer = {"Authorization": f"Bearer {issued.access_token}"}
    assert (await public.get("/v1/events", headers=bearer)).status == 200

    replica.freeze()
    try:
        resp = await admin.post("/admin/revocations", json={"user_id": "1001"}, headers=AUTH)
        assert resp.status == 503
        assert "replica" in (await resp.text())
    finally:
        replica.catch_up()
    resp = await admin.post("/admin/revocations", json={"user_id": "1001"}, headers=AUTH)
    assert resp.status == 200, await resp.text()
    assert (await public.get("/v1/events", headers=bearer)).status == 401


async def test_wait_latency(primary: RedisServer, replica: Replica, capsys: pytest.CaptureFixture[str]) -> None:
    """Measured, not asserted tightly: what WAIT adds to a revocation on a local replica."""
    durable = await _store(primary.url, min_replicas_acked=1, ack_timeout=0.5)
    plain = await _store(primary.url, min_replicas_acked=0)
    try:
        timings: dict[str, list[float]] = {"min_replicas_acked=0": [], "min_replicas_acked=1": []}
        for _ in range(200):
            for name, store in (("min_replicas_acked=0", plain), ("min_replicas_acked=1", durable)):
                started = time.perf_counter()
                await store.revoke_user_app("u1", "c1")
                timings[name].append(time.perf_counter() - started)
        with capsys.disabled():
            for name, values in timings.items():
                values.sort()
                print(
                    f"\nrevoke_user_app {name}: median {statistics.median(values) * 1000:.3f} ms, "
                    f"p99 {values[int(len(values) * 0.99) - 1] * 1000:.3f} ms"
                )
        assert statistics.median(timings["min_replicas_acked=1"]) < 0.1
    finally:
        await durable.close()
        await plain.close()
