"""SIGHUP reloads the route map of a running `scopegate serve`; a bad file or a change that needs a restart is
refused and the running configuration stays."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import requests
import yaml

from tests.e2e.harness import GatewayProcess, UpstreamProcess, write_config
from tests.e2e.tokens import mint_token


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_sighup_swaps_routes_and_refuses_bad_or_restart_only_changes(redis_url: str, tmp_path: Path) -> None:
    upstream = UpstreamProcess()
    config = write_config(tmp_path, upstream=upstream.url, redis_url=redis_url)
    gw = GatewayProcess(config)
    try:
        token = mint_token(redis_url, scopes=["events:read"])
        auth = {"Authorization": f"Bearer {token}"}
        assert requests.get(gw.url + "/v1/reports", headers=auth, timeout=2).status_code == 404

        raw = yaml.safe_load(config.read_text())
        raw["routes"].append({"id": "reports", "methods": ["GET"], "path": "/v1/reports", "scope": "events:read"})
        config.write_text(yaml.safe_dump(raw, sort_keys=False))
        gw.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: requests.get(gw.url + "/v1/reports", headers=auth, timeout=2).status_code == 200)

        good = config.read_text()
        config.write_text(good.replace("scope: events:read", "scope: event:read", 1))  # an unknown scope
        gw.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reload refused" in gw.logs())
        assert "unknown scope(s): event:read" in gw.logs()
        assert requests.get(gw.url + "/v1/reports", headers=auth, timeout=2).status_code == 200

        raw["basic_auth"] = "reject"
        config.write_text(yaml.safe_dump(raw, sort_keys=False))
        gw.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "basic_auth can change only with a restart" in gw.logs())
        basic = requests.get(gw.url + "/v1/events", headers={"Authorization": "Basic dTpw"}, timeout=2)
        assert basic.status_code == 200  # still passthrough
        assert gw.proc.poll() is None
    finally:
        gw.stop()
        upstream.stop()
