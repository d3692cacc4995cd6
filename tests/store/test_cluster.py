"""Redis Cluster: the gateway behind redis+cluster:// on a local 3-primary cluster with replicas. Every atomic step
is single-slot, revocations are announced to processes subscribed on any node, and security-critical writes wait for
the replica of their shard."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from gateway.models import Authorization
from gateway.store import keyspace as ks
from gateway.store.urls import cluster_url_problem
from tests.proxy.helpers import bearer, issue, register_app
from tests.store.cluster import LocalCluster
from tests.store.procs import command


def test_cluster_url_validation() -> None:
    assert cluster_url_problem("redis+cluster://a:7000,b:7001") is None
    assert cluster_url_problem("rediss+cluster://:pw@a:7000") is None
    assert cluster_url_problem("redis+cluster://a") is not None
    assert cluster_url_problem("redis+cluster://a:7000/2") is not None


def test_the_keys_of_one_application_share_a_slot() -> None:
    cid, uid = "C1ient", "user 1"
    tagged = [
        ks.app(cid),
        ks.app_secrets(cid),
        ks.app_grants(cid),
        ks.client_users(cid),
        ks.app_consents(cid),
        ks.user_app_epoch(uid, cid),
        ks.grant(f"{cid}.abc"),
    ]
    assert {k[k.index("{") : k.index("}") + 1] for k in tagged} == {"{C1ient}"}
    user = [ks.user_epoch(uid), ks.authorizations(uid), ks.last_used(uid)]
    assert {k[k.index("{") : k.index("}") + 1] for k in user} == {"{user 1}"}


async def test_gateway_on_redis_cluster(redis_cluster: LocalCluster, make_gateway: Any, echo_upstream: Any) -> None:
    redis_cluster.flush()
    client, services = await make_gateway(echo_upstream.url, redis_url=redis_cluster.url)
    store = services.store
    assert await store.detect_replicas() == 1
    apps = [await register_app(services) for _ in range(6)]  # spread over the shards
    tokens = []
    for i, app in enumerate(apps):
        await store.record_authorization(Authorization(f"u{i}", app.client_id, ("events:read",), time.time()))
        tokens.append(await issue(services, app, ["events:read"], user_id=f"u{i}"))
    for t in tokens:
        assert (await client.get("/v1/events", headers=bearer(t.access_token))).status == 200
    slots = {
        int(command(redis_cluster.ports[0], "CLUSTER", "KEYSLOT", ks.app(a.client_id)).strip(b":\r\n")) for a in apps
    }
    assert len(slots) == 6
    await store.delete_app(apps[0].client_id)
    await store.revoke_user("u1")
    await store.revoke_user_app("u2", apps[2].client_id)
    await store.revoke_client(apps[3].client_id)
    await store.revoke_grant(tokens[4].grant.grant_id)
    # Revocation messages reach this process's subscription through the cluster (published on the shard that made
    # the change, broadcast to every node); the cache drops what they name.
    started = time.monotonic()
    while True:
        statuses = [(await client.get("/v1/events", headers=bearer(t.access_token))).status for t in tokens]
        if statuses == [401, 401, 401, 401, 401, 200] or time.monotonic() - started > 3:
            break
        await asyncio.sleep(0.01)
    assert statuses == [401, 401, 401, 401, 401, 200], f"after {time.monotonic() - started:.3f} s"
    assert await store.pending_cleanups() == [apps[0].client_id]
    await store.cleanup_app(apps[0].client_id)
    assert await store.pending_cleanups() == []
