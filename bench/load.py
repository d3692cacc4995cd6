"""Drive targets with wrk (pinned to the client core), alternating A B A B, and summarise."""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import LOOPBACK, which
from bench.servers import CLIENT_CORE

LUA = Path(__file__).parent / "random_token.lua"


@dataclass
class Target:
    name: str
    port: int


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    status_errors: int
    socket_errors: int
    requests: int
    redis_per_req: float = 0.0
    cpu_us_per_req: float = 0.0


@dataclass
class Cell:
    """One target at one connection count, over the repetitions."""

    target: str
    conns: int
    samples: list[Sample] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.median(s.rps for s in self.samples)

    @property
    def p50(self) -> float:
        return statistics.median(s.p50_ms for s in self.samples)

    @property
    def p99(self) -> float:
        return statistics.median(s.p99_ms for s in self.samples)

    @property
    def redis_per_req(self) -> float:
        return statistics.median(s.redis_per_req for s in self.samples)

    @property
    def cpu_us(self) -> float:
        return statistics.median(s.cpu_us_per_req for s in self.samples)

    @property
    def spread(self) -> float:
        """(max - min) / median of req/s across repetitions."""
        values = [s.rps for s in self.samples]
        return (max(values) - min(values)) / self.rps if self.rps else 0.0


def run_wrk(port: int, path: str, tokens_file: Path, conns: int, duration: float, method: str = "GET") -> Sample:
    cmd = [
        "taskset",
        "-c",
        str(CLIENT_CORE),
        which("wrk"),
        "-t1",
        f"-c{conns}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"http://{LOOPBACK}:{port}{path}",
        "--",
        str(tokens_file),
        path,
        method,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {out.stdout}\n{out.stderr}")
    d = json.loads(line[len("RESULT ") :])
    secs = d["duration_us"] / 1e6
    return Sample(
        rps=d["requests"] / secs if secs else 0.0,
        p50_ms=d["p50_us"] / 1000,
        p99_ms=d["p99_us"] / 1000,
        status_errors=d["status_errors"],
        socket_errors=d["socket_errors"],
        requests=d["requests"],
    )


def probe(port: int, path: str, token: str | None, method: str = "GET") -> int:
    """One request, to check a target answers what the scenario expects before it is measured."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def alternate(
    targets: list[Target],
    path: str,
    tokens_file: Path,
    conns_list: list[int],
    reps: int,
    duration: float,
    log: list[str],
    redis_commands: Callable[[], int],
    server_cpu: Callable[[], float],
) -> list[Cell]:
    cells = {(t.name, c): Cell(t.name, c) for t in targets for c in conns_list}
    for t in targets:  # unmeasured warm-up: token caches filled with every token wrk picks, pools and code warm
        run_wrk(t.port, path, tokens_file, max(conns_list), 1.0)
    for conns in conns_list:
        for rep in range(reps):
            for t in targets:  # A B C A B C ...: drift (thermal, page cache, Redis growth) hits every target alike
                before, cpu_before = redis_commands(), server_cpu()
                s = run_wrk(t.port, path, tokens_file, conns, duration)
                s.cpu_us_per_req = (server_cpu() - cpu_before) * 1e6 / max(1, s.requests)
                s.redis_per_req = (redis_commands() - before - 1) / max(1, s.requests)
                cells[(t.name, conns)].samples.append(s)
                log.append(
                    f"  rep {rep + 1} c={conns:<3} {t.name:<18} {s.rps:9.0f} req/s  p50 {s.p50_ms:7.3f} ms"
                    f"  p99 {s.p99_ms:7.3f} ms  non2xx {s.status_errors}  sockerr {s.socket_errors}"
                    f"  redis/req {s.redis_per_req:.2f}  server CPU {s.cpu_us_per_req:5.0f} us/req"
                )
                print(log[-1], flush=True)
    return list(cells.values())
