"""Operations on real `scopegate serve` processes: the metrics listener, `scopegate healthcheck`, the demo banner."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import ROOT, free_port
from tests.e2e.harness import GatewayProcess, UpstreamProcess, _wait_http, write_config


def test_metrics_listener_serves_only_metrics_without_a_token(redis_url: str, tmp_path: Path) -> None:
    upstream = UpstreamProcess()
    metrics_port = free_port()
    gw = GatewayProcess(
        write_config(tmp_path, upstream=upstream.url, redis_url=redis_url),
        env={"SCOPEGATE_METRICS_LISTEN": f"127.0.0.1:{metrics_port}"},
    )
    metrics_url = f"http://127.0.0.1:{metrics_port}"
    try:
        assert requests.get(gw.url + "/v1/events", timeout=2).status_code == 401
        resp = requests.get(metrics_url + "/metrics", timeout=2)  # no Authorization header
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
        assert 'scopegate_requests_total{decision="deny"' in resp.text
        # The same registry as the admin listener's /metrics (which still needs nothing more than before).
        admin = requests.get(gw.admin_url + "/metrics", timeout=2).text
        assert "scopegate_revocation_subscribed 1.0" in admin and "scopegate_revocation_subscribed 1.0" in resp.text
        # Nothing else is served there: not the admin API, not the public routes, not another method.
        for path in ("/admin/applications", "/admin/openapi.json", "/healthz", "/v1/status", "/"):
            assert requests.get(metrics_url + path, headers=gw.admin_headers, timeout=2).status_code == 404, path
        assert requests.post(metrics_url + "/metrics", timeout=2).status_code == 405
        assert f"metrics listening on 127.0.0.1:{metrics_port}" in gw.logs()
    finally:
        gw.stop()
        upstream.stop()
    assert gw.proc.returncode == 0


def _healthcheck(config: Path, listen: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "SCOPEGATE_LISTEN": listen}  # no secrets needed to ask
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "healthcheck", "--config", str(config), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=20,
    )


def test_healthcheck_follows_the_listen_address_and_checks_readiness(redis_url: str, tmp_path: Path) -> None:
    upstream = UpstreamProcess()
    config = write_config(tmp_path, upstream=upstream.url, redis_url=redis_url)
    gw = GatewayProcess(config)
    try:
        ok = _healthcheck(config, f"0.0.0.0:{gw.port}")  # a wildcard listener is asked on loopback
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert ok.stdout.strip() == f"http://127.0.0.1:{gw.port}/readyz: 200"
        live = _healthcheck(config, f"127.0.0.1:{gw.port}", "--live")
        assert live.returncode == 0 and "/healthz: 200" in live.stdout
        nobody = _healthcheck(config, f"127.0.0.1:{free_port()}")
        assert nobody.returncode == 1 and "refused" in nobody.stderr.lower()
    finally:
        gw.stop()
        upstream.stop()


def test_healthcheck_fails_while_not_ready(tmp_path: Path) -> None:
    """Redis unreachable: /healthz still answers 200, /readyz 503, so the image's HEALTHCHECK reports unhealthy."""
    upstream = UpstreamProcess()
    config = write_config(tmp_path, upstream=upstream.url, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    port = free_port()
    env = {
        **os.environ,
        "SCOPEGATE_SECRET_KEY": "k" * 40,
        "SCOPEGATE_LISTEN": f"127.0.0.1:{port}",
        "SCOPEGATE_ADMIN_LISTEN": f"127.0.0.1:{free_port()}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        assert _healthcheck(config, f"127.0.0.1:{port}", "--live").returncode == 0
        not_ready = _healthcheck(config, f"127.0.0.1:{port}")
        assert not_ready.returncode == 1 and "/readyz: 503" in not_ready.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        upstream.stop()


def test_demo_prints_where_to_go_the_demo_user_and_a_working_admin_token(tmp_path: Path) -> None:
    port, admin_port, upstream_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCOPEGATE_")}
    env.update(
        {
            "SCOPEGATE_LISTEN": f"127.0.0.1:{port}",
            "SCOPEGATE_ADMIN_LISTEN": f"127.0.0.1:{admin_port}",
            "SCOPEGATE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SCOPEGATE_UPSTREAM": f"http://127.0.0.1:{upstream_port}",
        }
    )
    out_path = tmp_path / "demo.out"
    with out_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--config", str(ROOT / "config" / "demo.yaml")],
            env=env,
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 15
        while "curl -H" not in out_path.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None
            time.sleep(0.05)
        banner = out_path.read_text()
        base = f"http://127.0.0.1:{port}"
        assert f"{base}/account/developer/applications" in banner
        assert f"{base}/oauth/authorize?response_type=code&client_id=CLIENT_ID" in banner
        assert "demo / demo" in banner
        token = re.search(r"^    export SCOPEGATE_ADMIN_TOKEN=(\S+)$", banner, re.M)
        assert token is not None, banner
        curl = (
            f'curl -H "Authorization: Bearer $SCOPEGATE_ADMIN_TOKEN" http://127.0.0.1:{admin_port}/admin/applications'
        )
        assert curl in banner
        # The printed token is the one the admin API accepts; the page the banner names is served.
        resp = requests.get(
            f"http://127.0.0.1:{admin_port}/admin/applications",
            headers={"Authorization": f"Bearer {token.group(1)}"},
            timeout=2,
        )
        assert resp.status_code == 200
        page = requests.get(f"{base}/account/developer/applications", headers={"Accept": "text/html"}, timeout=2)
        assert page.status_code == 200 and "<form" in page.text  # the sign-in page, on the way there
    finally:
        proc.terminate()
        proc.wait(timeout=15)
