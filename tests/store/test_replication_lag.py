"""Replication lag and failover: the replica is fed through a relay that delays the replication link by 200 ms. A
revocation that its replica cannot confirm within redis.ack_timeout is refused (503, not acknowledged); one given
enough time is confirmed, and survives the primary being killed and the replica promoted."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from gateway import applications
from gateway.issuance import start_grant
from gateway.security import Hasher
from gateway.store.options import StoreOptions
from gateway.store.redis.client import NotAcknowledged
from gateway.store.redis_store import connect
from tests.conftest import SECRET_KEY, RedisServer
from tests.store.procs import DelayRelay, acknowledged, command, info_field, wait_until

HASHER = Hasher(SECRET_KEY.encode())
LAG = 0.2

pytestmark = pytest.mark.slow


@pytest.fixture
def lagging() -> Iterator[tuple[RedisServer, RedisServer, DelayRelay]]:
    primary, replica = RedisServer(), RedisServer()
    primary.start()
    replica.start()
    command(primary.port, "CONFIG", "SET", "repl-diskless-sync-delay", "0")
    relay = DelayRelay(primary.port, LAG)
    command(replica.port, "REPLICAOF", "127.0.0.1", str(relay.port))
    wait_until(lambda: info_field(replica.port, "replication", "master_link_status") == "up", what="link up")
    wait_until(lambda: acknowledged(primary.port, 2000), what="replica acknowledges through the relay")
    yield primary, replica, relay
    relay.close()
    for server in (primary, replica):
        if server.proc is not None:
            server.proc.kill()
            server.proc.wait(10)


async def test_lagging_replica_refuses_then_confirmed_write_survives_failover(
    lagging: tuple[RedisServer, RedisServer, DelayRelay],
) -> None:
    primary, replica, _ = lagging
    hasty = connect(primary.url, options=StoreOptions(timeout=3, min_replicas_acked=1, ack_timeout=LAG / 2))
    patient = connect(primary.url, options=StoreOptions(timeout=3, min_replicas_acked=1, ack_timeout=2 * LAG + 1))
    try:
        await patient.init_scopes(["events:read"])
        await hasty.init_scopes(["events:read"])
        reg = await applications.register(
            patient, HASHER, ["events:read"], {"name": "A", "redirect_uri": "https://a.example/cb", "owner": "u1"}
        )
        cid = reg.application.client_id
        issued = await start_grant(
            patient, HASHER, client_id=cid, user_id="u2", scopes=["events:read"], access_ttl=60, refresh_ttl=120
        )

        # The replica is 200 ms behind: a 100 ms confirmation bound cannot be met, so the call is refused.
        started = time.perf_counter()
        with pytest.raises(NotAcknowledged):
            await hasty.revoke_user("u1")
        refused_after = time.perf_counter() - started
        # With a bound above the lag, the same kind of write is confirmed (and takes the lag to be).
        started = time.perf_counter()
        await patient.revoke_user("u2")
        confirmed_after = time.perf_counter() - started
        assert confirmed_after >= LAG

        # The primary dies at once; the replica is promoted (what Sentinel does).
        assert primary.proc is not None
        primary.proc.kill()
        primary.proc.wait(10)
        primary.proc = None
        command(replica.port, "REPLICAOF", "NO", "ONE")
        promoted = connect(replica.url)
        try:
            await promoted.init_scopes(["events:read"])
            g = issued.grant
            _, _, _, user_epoch = await promoted.validation_facts(g.grant_id, cid, "u2")
            assert user_epoch == g.user_epoch + 1  # the acknowledged revocation survived: the token stays dead
        finally:
            await promoted.close()
        print(
            f"\nreplication lag {LAG * 1000:.0f} ms: refused after {refused_after * 1000:.0f} ms "
            f"(ack_timeout {LAG / 2 * 1000:.0f} ms); confirmed after {confirmed_after * 1000:.0f} ms"
        )
    finally:
        await hasty.close()
        await patient.close()
