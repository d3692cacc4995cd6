"""Shared fixtures: a real redis-server on a free port, settings built from dicts, an echo upstream, a gateway."""

from __future__ import annotations

import asyncio
import copy
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict

from gateway.app import build_public_app
from gateway.services import Services, build_services
from gateway.settings import Settings, build_settings
from gateway.store.redis_store import RedisStore, connect

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "test-secret-key-0123456789abcdefghijklmnop"
ADMIN_TOKEN = "test-admin-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private redis-server process (Debian's binary) that tests may stop and start again."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: `.ci/run` installs it (apt-get install redis-server)")
        self.binary = binary
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="sg-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
                "--protected-mode",
                "no",
                "--enable-debug-command",
                "local",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        """Stop like a crash-free restart: the data is saved first, so it is back after start()."""
        if self.proc is not None:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(b"SAVE\r\n")
                s.recv(16)
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(b"FLUSHALL\r\n")
            s.recv(16)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A real Redis, emptied for each test."""
    if redis_server.proc is None:
        redis_server.start()
    redis_server.flush()
    return redis_server.url


def base_config() -> dict[str, Any]:
    raw = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    raw["demo_upstream"] = False
    raw["listen"] = "127.0.0.1:0"
    raw["admin_listen"] = "127.0.0.1:0"
    return raw


def make_settings(overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Settings:
    raw = copy.deepcopy(base_config())
    for key, value in (overrides or {}).items():
        raw[key] = value
    environ = {"SCOPEGATE_SECRET_KEY": SECRET_KEY, "SCOPEGATE_ADMIN_TOKEN": ADMIN_TOKEN, **(env or {})}
    return build_settings(raw, {}, environ, "test")


@dataclass
class Seen:
    method: str
    raw_path: str
    headers: CIMultiDict[str]
    header_items: list[tuple[str, str]]
    body: bytes


@dataclass
class EchoUpstream:
    """An upstream that records what it received and answers with JSON describing it."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    app: web.Application | None = None
    # Set by a test to answer differently: async (request, body) -> response.
    special: Callable[[web.Request, bytes], Awaitable[web.StreamResponse]] | None = None

    @property
    def last(self) -> Seen:
        assert self.seen, "the upstream received nothing"
        return self.seen[-1]


ECHO = web.AppKey("echo", EchoUpstream)


async def _echo_handler(request: web.Request) -> web.StreamResponse:
    upstream: EchoUpstream = request.app[ECHO]
    body = await request.read()
    upstream.seen.append(
        Seen(request.method, request.raw_path, CIMultiDict(request.headers), list(request.headers.items()), body)
    )
    if upstream.special is not None:
        result: web.StreamResponse = await upstream.special(request, body)
        return result
    return web.json_response(
        {"method": request.method, "path": request.raw_path, "bytes": len(body)},
        headers={"X-Upstream": "echo"},
    )


@pytest.fixture
async def echo_upstream(aiohttp_server: Any) -> EchoUpstream:
    echo = EchoUpstream()
    app = web.Application(client_max_size=1024**3)
    app[ECHO] = echo
    app.router.add_route("*", "/{tail:.*}", _echo_handler)
    server = await aiohttp_server(app)
    echo.url = str(server.make_url("")).rstrip("/")
    echo.app = app
    return echo


async def wait_ready(services: Services, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not (services.scopes_ready and services.validator.subscribed):
        if time.monotonic() > deadline:
            raise AssertionError("gateway did not become ready")
        await asyncio.sleep(0.01)


GatewayFactory = Callable[..., Awaitable[tuple[TestClient[Any, Any], Services]]]


@pytest.fixture
async def make_gateway(aiohttp_client: Any) -> AsyncIterator[GatewayFactory]:
    """Build a running public app: make_gateway(upstream_url, redis_url='memory://', **config overrides)."""

    async def factory(
        upstream: str = "http://127.0.0.1:9",
        redis_url: str = "memory://",
        env: dict[str, str] | None = None,
        **overrides: Any,
    ) -> tuple[TestClient[Any, Any], Services]:
        settings = make_settings({"upstream": upstream, "redis_url": redis_url, **overrides}, env)
        services = build_services(settings)
        app = build_public_app(services)
        client = await aiohttp_client(TestServer(app, handler_cancellation=True))
        await wait_ready(services)
        return client, services

    yield factory


@pytest.fixture
def memory_store() -> RedisStore:
    return connect("memory://")
