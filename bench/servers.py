"""Start the servers under test on loopback: Redis, the upstream, the peer (nginx + auth service), scopegate."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.procs import LOOPBACK, Procs, free_port, wait_port, which

ROOT = Path(__file__).resolve().parent.parent
SERVER_CORE = 0
CLIENT_CORE = 1

# The upstream's answer to every GET: 213 bytes of JSON (the size of the reference measurements).
_BODY = {
    "data": [
        {"id": 1, "title": "Standup", "start": "2024-05-01T09:00:00Z", "end": "2024-05-01T09:15:00Z"},
        {"id": 2, "title": "Review", "start": "2024-05-01T15:00:00Z"},
    ],
    "next": None,
}


def upstream_body() -> str:
    text = json.dumps(_BODY, separators=(",", ":"))
    pad = 213 - len(text) - len(',"pad":""')
    text = text[:-1] + ',"pad":"' + "x" * pad + '"}'
    assert len(text.encode()) == 213, len(text)
    return text


@dataclass
class Gateway:
    proc: subprocess.Popen[bytes]
    port: int
    admin_port: int
    name: str

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://{LOOPBACK}:{self.admin_port}"


class Stack:
    """The processes of one benchmark run; everything is stopped by `procs` on exit."""

    def __init__(self, procs: Procs, workdir: Path, *, access_log: bool) -> None:
        self.procs = procs
        self.dir = workdir
        self.secret = secrets.token_urlsafe(32)
        self.admin_token = secrets.token_urlsafe(24)
        self.access_log = access_log
        self.redis_port = 0
        self.upstream_port = 0  # the nginx upstream (every scenario)
        self.app_upstream_port = 0  # the application-server upstream (aiohttp on uvloop), when started
        self.peer_port = 0
        self.plain_port = 0
        self.auth_port = 0
        self.peers: dict[str, tuple[int, int]] = {}  # upstream kind -> (peer port, nginx plain proxy port)
        self.gateways: dict[str, Gateway] = {}
        self.redis_proc: subprocess.Popen[bytes] | None = None

    def export_tree(self, ref: str) -> Path:
        """gateway/ and admin/ as of git `ref`, extracted into the work directory (the repository is not touched)."""
        dest = self.dir / f"tree-{ref.replace('/', '_')}"
        dest.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "gateway", "admin"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return dest

    @property
    def redis_url(self) -> str:
        return f"redis://{LOOPBACK}:{self.redis_port}/0"

    @property
    def upstream_url(self) -> str:
        return f"http://{LOOPBACK}:{self.upstream_port}"

    def upstream_port_of(self, kind: str) -> int:
        """The port of the upstream of `kind`: "nginx" (`return 200`) or "app" (aiohttp on uvloop)."""
        return self.app_upstream_port if kind == "app" else self.upstream_port

    def upstream_url_of(self, kind: str) -> str:
        return f"http://{LOOPBACK}:{self.upstream_port_of(kind)}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SCOPEGATE_SECRET_KEY": self.secret,
            "SCOPEGATE_ADMIN_TOKEN": self.admin_token,
            "SCOPEGATE_LOG_LEVEL": "WARNING",
        }

    # --- redis ---------------------------------------------------------------------------------------------

    def start_redis(self, name: str = "redis") -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        d = self.dir / name
        d.mkdir(exist_ok=True)
        proc = self.procs.start(
            name,
            [
                which("redis-server"),
                "--port",
                str(port),
                "--bind",
                LOOPBACK,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(d),
                "--protected-mode",
                "no",
            ],
            core=SERVER_CORE,
        )
        wait_port(port, proc)
        return proc, port

    # --- nginx ---------------------------------------------------------------------------------------------

    def _nginx(self, name: str, section: str, marks: dict[str, str]) -> subprocess.Popen[bytes]:
        template = (Path(__file__).parent / "nginx.conf").read_text()
        keep, drop = ("UPSTREAM", "PEER") if section == "UPSTREAM" else ("PEER", "UPSTREAM")
        head, _, rest = template.partition(f"#{drop}_BEGIN")
        _, _, tail = rest.partition(f"#{drop}_END")
        text = head + tail
        d = self.dir / name
        d.mkdir(exist_ok=True)
        d.chmod(0o755)
        for key, value in {"DIR": str(d), **marks}.items():
            text = text.replace(f"@{key}@", value)
        conf = d / "nginx.conf"
        conf.write_text(text)
        assert keep in template
        return self.procs.start(
            name, [which("nginx"), "-p", str(d), "-c", str(conf), "-e", str(d / "error.log")], core=SERVER_CORE
        )

    def start_upstream(self, blobs: dict[str, int]) -> None:
        """nginx `return 200` with the 213-byte body; `blobs` maps download paths to their size (sparse files)."""
        self.upstream_port = free_port()
        www = self.dir / "upstream" / "www"
        for path, size in blobs.items():
            f = www / path.lstrip("/")
            f.parent.mkdir(parents=True, exist_ok=True)
            for parent in (www, *f.parents):
                if str(parent).startswith(str(self.dir)):
                    parent.chmod(0o755)
            with f.open("wb") as fh:
                fh.truncate(size)
        proc = self._nginx("upstream", "UPSTREAM", {"PORT": str(self.upstream_port), "BODY": upstream_body()})
        wait_port(self.upstream_port, proc)

    def start_app_upstream(self) -> None:
        """The application-server upstream: aiohttp on uvloop answering every request with the same 213-byte JSON
        body, keep-alive (bench/floor.py `app`). What an API like Apptoto's looks like from the proxy."""
        self.app_upstream_port = free_port()
        proc = self.procs.start(
            "upstream-app",
            [sys.executable, "-m", "bench.floor", "app", "--port", str(self.app_upstream_port)],
            core=SERVER_CORE,
            cwd=ROOT,
        )
        wait_port(self.app_upstream_port, proc)

    def start_peer(self, kind: str = "nginx") -> None:
        """The peer (nginx + auth_request) and an nginx plain proxy in front of the upstream of `kind`; the auth
        service is shared by the peers of every kind."""
        if not self.auth_port:
            self.auth_port = free_port()
            auth = self.procs.start(
                "peer_auth",
                [sys.executable, "-m", "bench.peer_auth", "--port", str(self.auth_port), "--redis-url", self.redis_url],
                core=SERVER_CORE,
                env=self.env(),
                cwd=ROOT,
            )
            wait_port(self.auth_port, auth)
        peer_port, plain_port = free_port(), free_port()
        proc = self._nginx(
            f"peer-{kind}",
            "PEER",
            {
                "PORT": str(peer_port),
                "PLAIN_PORT": str(plain_port),
                "UPSTREAM_PORT": str(self.upstream_port_of(kind)),
                "AUTH_PORT": str(self.auth_port),
            },
        )
        wait_port(peer_port, proc)
        wait_port(plain_port, proc)
        self.peers[kind] = (peer_port, plain_port)
        if kind == "nginx":
            self.peer_port, self.plain_port = peer_port, plain_port

    def start_floor(self, mode: str, kind: str = "nginx") -> int:
        """bench/floor.py: a bare aiohttp server (`hello`) or bare aiohttp proxy (`proxy`) as reference points."""
        port = free_port()
        proc = self.procs.start(
            f"floor-{mode}-{kind}",
            [sys.executable, "-m", "bench.floor", mode, "--port", str(port), "--upstream", self.upstream_url_of(kind)],
            core=SERVER_CORE,
            cwd=ROOT,
        )
        wait_port(port, proc)
        return port

    # --- scopegate -----------------------------------------------------------------------------------------

    def start_gateway(
        self,
        name: str,
        *,
        cache: bool = True,
        source: Path | None = None,
        kind: str = "nginx",
        overrides: dict[str, Any] | None = None,
    ) -> Gateway:
        raw = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
        raw.update(
            {
                "upstream": self.upstream_url_of(kind),
                "redis_url": self.redis_url,
                "demo_upstream": False,
                "max_body": 4 * 1024**3,
                "access_log": self.access_log,
                "cache": {"enabled": cache},
            }
        )
        raw.update(overrides or {})
        conf = self.dir / f"{name}.yaml"
        conf.write_text(yaml.safe_dump(raw, sort_keys=False))
        port, admin_port = free_port(), free_port()
        env = {
            **self.env(),
            "SCOPEGATE_LISTEN": f"{LOOPBACK}:{port}",
            "SCOPEGATE_ADMIN_LISTEN": f"{LOOPBACK}:{admin_port}",
            "SCOPEGATE_PUBLIC_URL": f"http://{LOOPBACK}:{port}",
        }
        # The code under test: this checkout's gateway/ (or another version's, python -m bench --baseline REF),
        # first on sys.path and as the working directory, whatever checkout the venv's editable install points at.
        tree = source if source is not None else ROOT
        env["PYTHONPATH"] = str(tree)
        proc = self.procs.start(
            name,
            [sys.executable, "-m", "gateway.cli", "serve", "--config", str(conf)],
            core=SERVER_CORE,
            env=env,
            cwd=tree,
        )
        gw = Gateway(proc, port, admin_port, name)
        wait_port(port, proc)
        wait_ready(gw.url + "/readyz", proc)
        self.gateways[name] = gw
        return gw


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready within {timeout}s")
