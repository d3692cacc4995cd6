"""Bounded memory: large bodies stream through a real `scopegate serve` without growing the process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import requests

from tests.e2e.harness import GatewayProcess, UpstreamProcess, write_config
from tests.e2e.tokens import mint_token

SIZE = 256 * 1024 * 1024
CHUNK = bytes(256 * 1024)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def body() -> Iterator[bytes]:
    for _ in range(SIZE // len(CHUNK)):
        yield CHUNK


def test_256_mib_up_and_down_grow_the_gateway_by_less_than_10_mib(redis_url: str, tmp_path: Path) -> None:
    upstream = UpstreamProcess()
    routes = [
        {
            "id": "upload",
            "methods": ["POST"],
            "path": "/demo/upload",
            "scope": "imports:write",
            "max_body": 2 * 1024**3,
        },
        {"id": "download", "methods": ["GET"], "path": "/demo/bytes/{n}", "scope": "events:read"},
    ]
    gw = GatewayProcess(write_config(tmp_path, upstream=upstream.url, redis_url=redis_url, routes=routes))
    try:
        token = mint_token(redis_url, scopes=["imports:write", "events:read"])
        auth = {"Authorization": f"Bearer {token}"}
        small = requests.post(gw.url + "/demo/upload", headers=auth, data=b"x" * 1000, timeout=10)
        assert small.json() == {"received": 1000}
        requests.get(gw.url + "/demo/bytes/1000", headers=auth, timeout=10).raise_for_status()
        before = rss_kib(gw.proc.pid)

        up = requests.post(gw.url + "/demo/upload", headers=auth, data=body(), timeout=120)
        assert up.status_code == 200 and up.json() == {"received": SIZE}
        received = 0
        with requests.get(gw.url + f"/demo/bytes/{SIZE}", headers=auth, stream=True, timeout=120) as down:
            assert down.status_code == 200
            for chunk in down.iter_content(1024 * 1024):
                received += len(chunk)
        assert received == SIZE
        growth_mib = (rss_kib(gw.proc.pid) - before) / 1024
        print(f"gateway RSS growth after 256 MiB up + 256 MiB down: {growth_mib:.1f} MiB")
        assert growth_mib < 10, growth_mib
    finally:
        gw.stop()
        upstream.stop()
