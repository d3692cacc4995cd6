"""Real processes for end-to-end tests: `scopegate serve` gateways and the demo upstream, on free ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.conftest import ADMIN_TOKEN, SECRET_KEY, base_config, free_port


def _wait_http(url: str, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=0.5).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


class UpstreamProcess:
    """The bundled demo upstream as its own process (it echoes what it received as JSON)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.demo_upstream", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_http(self.url + "/v1/status", proc=self.proc)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def write_config(directory: Path, *, upstream: str, redis_url: str, **overrides: Any) -> Path:
    raw = base_config()
    raw.update({"upstream": upstream, "redis_url": redis_url, "demo_upstream": False})
    raw.update(overrides)
    path = directory / f"scopegate-{free_port()}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


class GatewayProcess:
    """One `scopegate serve` process with its own public and admin ports."""

    def __init__(self, config: Path, env: dict[str, str] | None = None, public_port: int | None = None) -> None:
        self.port = public_port or free_port()
        self.admin_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        self.log_path = config.with_suffix(f".{self.port}.log")
        environ = {
            **os.environ,
            "SCOPEGATE_SECRET_KEY": SECRET_KEY,
            "SCOPEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
            "SCOPEGATE_LISTEN": f"127.0.0.1:{self.port}",
            "SCOPEGATE_ADMIN_LISTEN": f"127.0.0.1:{self.admin_port}",
            "SCOPEGATE_PUBLIC_URL": self.url,
            **(env or {}),
        }
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config)],
            env=environ,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        _wait_http(self.url + "/readyz", proc=self.proc)

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def logs(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def redis_dump(url: str) -> str:
    """Every key and value in Redis, as text."""
    import redis

    r = redis.Redis.from_url(url, decode_responses=True)
    parts: list[str] = []
    for key in r.scan_iter(count=1000):
        parts.append(key)
        kind = r.type(key)
        if kind == "string":
            parts.append(str(r.get(key)))
        elif kind == "hash":
            parts.append(str(r.hgetall(key)))
        elif kind == "set":
            parts.append(str(r.smembers(key)))
        elif kind == "stream":
            parts.append(str(r.xrange(key)))
        elif kind == "zset":
            parts.append(str(r.zrange(key, 0, -1, withscores=True)))
        elif kind == "list":
            parts.append(str(r.lrange(key, 0, -1)))
    r.close()
    return "\n".join(parts)
