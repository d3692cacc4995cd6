"""Real `scopegate serve` processes on a real Redis."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.conftest import RedisServer
from tests.e2e.harness import GatewayProcess, UpstreamProcess, write_config
from tests.e2e.tokens import mint_token


def test_serve_starts_and_reports_ready_then_drains_on_sigterm(redis_url: str, tmp_path: Path) -> None:
    upstream = UpstreamProcess()
    gw = GatewayProcess(write_config(tmp_path, upstream=upstream.url, redis_url=redis_url))
    try:
        assert requests.get(gw.url + "/healthz", timeout=2).json() == {"status": "ok", "pid": gw.proc.pid}
        ready = requests.get(gw.url + "/readyz", timeout=2).json()
        assert ready["ready"] is True and ready["revocation_subscription"] is True
        assert requests.get(gw.url + "/v1/status", timeout=2).status_code == 200
        assert requests.get(gw.url + "/v1/events", timeout=2).status_code == 401
        metrics = requests.get(gw.admin_url + "/metrics", timeout=2).text
        assert "scopegate_requests_total" in metrics
    finally:
        gw.stop()
        upstream.stop()
    assert gw.proc.returncode == 0
    assert "draining" in gw.logs()


def test_redis_down_means_503_and_recovery_without_restart(redis_server: RedisServer, tmp_path: Path) -> None:
    redis_server.flush()
    upstream = UpstreamProcess()
    gw = GatewayProcess(write_config(tmp_path, upstream=upstream.url, redis_url=redis_server.url))
    try:
        token = mint_token(redis_server.url, scopes=["events:read"])
        ok = requests.get(gw.url + "/v1/events", headers={"Authorization": f"Bearer {token}"}, timeout=2)
        assert ok.status_code == 200, ok.text
        redis_server.stop()
        down = requests.get(gw.url + "/v1/events", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert down.status_code == 503
        assert down.headers["Retry-After"]
        assert requests.get(gw.url + "/readyz", timeout=5).status_code == 503
        redis_server.start()
        deadline = time.monotonic() + 10
        status = 0
        while time.monotonic() < deadline:
            status = requests.get(
                gw.url + "/v1/events", headers={"Authorization": f"Bearer {token}"}, timeout=5
            ).status_code
            if status == 200:
                break
            time.sleep(0.1)
        assert status == 200
    finally:
        if redis_server.proc is None:
            redis_server.start()
        gw.stop()
        upstream.stop()


def test_sigterm_drains_an_in_flight_request(redis_url: str, tmp_path: Path) -> None:
    import threading

    upstream = UpstreamProcess()
    routes = [{"id": "slow", "methods": ["GET"], "path": "/demo/slow/{ms}", "scope": "events:read"}]
    gw = GatewayProcess(write_config(tmp_path, upstream=upstream.url, redis_url=redis_url, routes=routes))
    result: dict[str, object] = {}
    try:
        token = mint_token(redis_url, scopes=["events:read"])

        def call() -> None:
            resp = requests.get(gw.url + "/demo/slow/800", headers={"Authorization": f"Bearer {token}"}, timeout=10)
            result["status"], result["body"] = resp.status_code, resp.json()

        caller = threading.Thread(target=call)
        caller.start()
        time.sleep(0.3)  # the request is now waiting on the upstream
        gw.proc.terminate()
        caller.join(10)
        assert result == {"status": 200, "body": {"slept_ms": 800}}
        assert gw.proc.wait(10) == 0
    finally:
        gw.stop()
        upstream.stop()


def test_workers_share_one_port(redis_url: str, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import ADMIN_TOKEN, SECRET_KEY, free_port

    upstream = UpstreamProcess()
    config = write_config(tmp_path, upstream=upstream.url, redis_url=redis_url)
    port = free_port()
    env = {
        **os.environ,
        "SCOPEGATE_SECRET_KEY": SECRET_KEY,
        "SCOPEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "SCOPEGATE_LISTEN": f"127.0.0.1:{port}",
        "SCOPEGATE_ADMIN_LISTEN": f"127.0.0.1:{free_port()}",
    }
    parent = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pids: set[int] = set()
        token = mint_token(redis_url, scopes=["events:read"])
        deadline = time.monotonic() + 20
        while len(pids) < 2 and time.monotonic() < deadline:
            try:
                # A new connection each time, so the kernel spreads them over the listening workers.
                ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1, headers={"Connection": "close"})
                if ready.status_code == 200:
                    pids.add(ready.json()["pid"])
            except requests.ConnectionError:
                time.sleep(0.05)
        assert len(pids) == 2, pids
        assert parent.pid not in pids
        statuses = [
            requests.get(
                f"http://127.0.0.1:{port}/v1/events",
                timeout=2,
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            ).status_code
            for _ in range(10)
        ]
        assert statuses == [200] * 10
    finally:
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(15) == 0
        upstream.stop()
