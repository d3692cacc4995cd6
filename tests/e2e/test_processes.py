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
        assert requests.get(gw.url + "/healthz", timeout=2).json() == {"status": "ok"}
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
            status = requests.get(gw.url + "/v1/events", headers={"Authorization": f"Bearer {token}"},
                                  timeout=5).status_code
            if status == 200:
                break
            time.sleep(0.1)
        assert status == 200
    finally:
        if redis_server.proc is None:
            redis_server.start()
        gw.stop()
        upstream.stop()
