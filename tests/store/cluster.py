"""A local Redis Cluster from the redis-server binary: 3 primaries, each with one replica, on free ports."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time

from tests.store.procs import acknowledged, command, wait_until


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    while True:
        port = random.randint(20000, 40000)
        try:
            for p in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port


class LocalCluster:
    def __init__(self, primaries: int = 3, replicas: int = 1) -> None:
        binary = shutil.which("redis-server")
        cli = shutil.which("redis-cli")
        assert binary and cli, "redis-server and redis-cli are needed for the cluster tests"
        self.cli = cli
        self.dir = tempfile.mkdtemp(prefix="sg-cluster-")
        self.replicas = replicas
        self.ports = [cluster_port() for _ in range(primaries * (1 + replicas))]
        self.procs: list[subprocess.Popen[bytes]] = []
        for port in self.ports:
            self.procs.append(
                subprocess.Popen(
                    [
                        binary,
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        f"{self.dir}/nodes-{port}.conf",
                        "--cluster-node-timeout",
                        "2000",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        self.dir,
                        "--protected-mode",
                        "no",
                        "--repl-diskless-sync-delay",
                        "0",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in self.ports:
            wait_until(lambda p=port: command(p, "PING").startswith(b"+PONG"), what="cluster node up")  # type: ignore[misc]

    def create(self) -> None:
        subprocess.run(
            [
                self.cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in self.ports),
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        wait_until(
            lambda: all(b"cluster_state:ok" in command(p, "CLUSTER", "INFO") for p in self.ports),
            timeout=30,
            what="cluster state ok",
        )
        # Every primary has its replica attached before the tests start writing.
        wait_until(
            lambda: (
                sum(b"connected_slaves:1" in command(p, "INFO", "replication") for p in self.ports)
                >= len(self.ports) // (1 + self.replicas)
                if self.replicas
                else True
            ),
            timeout=30,
            what="replicas attached",
        )

        # Every primary's replica acknowledges writes (a replica fresh from its initial sync acknowledges only on
        # its once-a-second cron at first).
        for port in self.ports:
            if b"master" in command(port, "ROLE"):
                key = next(
                    k
                    for k in (f"sg:test:probe:{i}" for i in range(10_000))
                    if not command(port, "SET", k, "1").startswith(b"-MOVED")
                )
                wait_until(lambda p=port, k=key: acknowledged(p, key=k), what="shard replica acknowledges")  # type: ignore[misc]
        self.flush()

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports[:3])

    def flush(self) -> None:
        for port in self.ports:
            reply = command(port, "ROLE")
            if b"master" in reply:
                command(port, "FLUSHALL")
        time.sleep(0.05)

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
