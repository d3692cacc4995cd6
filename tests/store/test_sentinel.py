"""Redis Sentinel: the same store code behind a redis+sentinel:// URL, with a real redis-server in sentinel mode."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store.redis_store import connect
from gateway.store.urls import sentinel_url_problem
from tests.conftest import RedisServer, free_port
from tests.proxy.helpers import bearer, issue, register_app


@pytest.fixture
def sentinel(redis_server: RedisServer, redis_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\nsentinel monitor sg 127.0.0.1 {redis_server.port} 1\ndir {tmp_path}\n"
    )
    proc = subprocess.Popen(
        [str(shutil.which("redis-server")), str(conf), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                    s.sendall(b"SENTINEL get-master-addr-by-name sg\r\n")
                    if str(redis_server.port).encode() in s.recv(256):
                        break
            except OSError:
                pass
            time.sleep(0.05)
        yield f"redis+sentinel://127.0.0.1:{port}/sg/0"
    finally:
        proc.terminate()
        proc.wait(10)


def test_sentinel_url_validation() -> None:
    assert sentinel_url_problem("redis+sentinel://a:26379,b:26380/mymaster/2") is None
    assert sentinel_url_problem("redis+sentinel://a:26379") is not None
    assert sentinel_url_problem("redis+sentinel://a/mymaster") is not None


async def test_gateway_runs_on_redis_through_sentinel(sentinel: str, make_gateway, echo_upstream) -> None:
    store = connect(sentinel)
    assert await store.ping() >= 0
    await store.close()
    client, services = await make_gateway(echo_upstream.url, redis_url=sentinel)
    app = await register_app(services)
    tokens = await issue(services, app, ["events:read"])
    assert (await client.get("/v1/events", headers=bearer(tokens.access_token))).status == 200
    await services.store.delete_app(app.client_id)
    assert (await client.get("/v1/events", headers=bearer(tokens.access_token))).status == 401
