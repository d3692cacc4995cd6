"""Real deployments for the store tests: a primary with a replica and three sentinels."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import RedisServer
from tests.store.cluster import LocalCluster
from tests.store.procs import Replica, Sentinels, acknowledged, command, wait_until


@dataclass
class SentinelDeployment:
    primary: RedisServer
    replica: Replica
    sentinels: Sentinels

    @property
    def url(self) -> str:
        return self.sentinels.url

    def stop(self) -> None:
        self.sentinels.stop()
        self.replica.kill()
        if self.primary.proc is not None:
            self.primary.proc.kill()
            self.primary.proc.wait(10)
            self.primary.proc = None
        shutil.rmtree(self.primary.dir, ignore_errors=True)


def start_sentinel_deployment() -> SentinelDeployment:
    primary = RedisServer()
    primary.start()
    replica = Replica(primary.port)
    replica.start()
    sentinels = Sentinels(primary.port)
    # Every sentinel knows the replica (it can fail over to it), and the replica acknowledges writes.
    for port in sentinels.ports:
        wait_until(
            lambda p=port: str(replica.port).encode() in command(p, "SENTINEL", "replicas", "sg"),  # type: ignore[misc]
            what="sentinel sees the replica",
        )
    wait_until(lambda: acknowledged(primary.port), what="replica acknowledges")
    primary.flush()
    return SentinelDeployment(primary, replica, sentinels)


@pytest.fixture(scope="session")
def shared_sentinel_deployment() -> Iterator[SentinelDeployment]:
    """One primary + replica + 3 sentinels for the whole session (the contract suite flushes it per test)."""
    deployment = start_sentinel_deployment()
    yield deployment
    deployment.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    """A local Redis Cluster: 3 primaries, each with a replica (redis-server --cluster-enabled yes)."""
    cluster = LocalCluster()
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def sentinel_deployment() -> Iterator[SentinelDeployment]:
    """A deployment of its own, for tests that kill its primary."""
    deployment = start_sentinel_deployment()
    yield deployment
    deployment.stop()
