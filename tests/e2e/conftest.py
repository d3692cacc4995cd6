"""Fixtures of the end-to-end tests: real `scopegate serve` processes, the demo upstream, headless Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.harness import GatewayProcess, UpstreamProcess, write_config

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium driven by Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: `.ci/run` installs it (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def stack(redis_url: str, tmp_path: Path) -> Iterator[GatewayProcess]:
    """One gateway process in front of the demo upstream, on the suite's real Redis."""
    upstream = UpstreamProcess()
    gw = GatewayProcess(write_config(tmp_path, upstream=upstream.url, redis_url=redis_url))
    yield gw
    gw.stop()
    upstream.stop()


@pytest.fixture
def gateways(redis_url: str, tmp_path: Path) -> Iterator[list[GatewayProcess]]:
    """Two gateway processes sharing one Redis and one upstream."""
    upstream = UpstreamProcess()
    config = write_config(tmp_path, upstream=upstream.url, redis_url=redis_url)
    started: list[GatewayProcess] = []
    try:
        for _ in range(2):
            started.append(GatewayProcess(config))
        yield started
    finally:
        for gw in started:
            gw.stop()
        upstream.stop()
