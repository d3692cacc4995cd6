"""Scenarios that are not wrk runs: streaming memory, revocation propagation, application deletion, Redis size."""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from bench.procs import LOOPBACK, rss_kib

MB = 1024 * 1024
_ZEROS = bytes(256 * 1024)


# --- streaming ---------------------------------------------------------------------------------------------------


def upload(port: int, path: str, token: str, size: int) -> int:
    def body() -> object:
        left = size
        while left > 0:
            n = min(left, len(_ZEROS))
            yield _ZEROS[:n] if n < len(_ZEROS) else _ZEROS
            left -= n

    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=120)
    try:
        conn.request(
            "POST",
            path,
            body=body(),  # type: ignore[arg-type]
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Length": str(size),
                "Content-Type": "application/octet-stream",
            },
        )
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def download(port: int, path: str, token: str) -> tuple[int, int]:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=120)
    buf = bytearray(MB)
    got = 0
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        while True:
            n = resp.readinto(buf)
            if not n:
                break
            got += n
        return resp.status, got
    finally:
        conn.close()


class RssSampler:
    """Peak VmRSS of a process, sampled every 10 ms in a thread while a transfer runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_kib(self.pid)[0])

    def __enter__(self) -> RssSampler:
        self.peak = rss_kib(self.pid)[0]
        self._t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._t.join(timeout=5)


@dataclass
class StreamRow:
    target: str
    what: str
    total_mb: float
    seconds: float
    statuses: list[int]
    rss_before_kib: int = 0
    rss_peak_kib: int = 0
    rss_after_kib: int = 0

    @property
    def mb_s(self) -> float:
        return self.total_mb / self.seconds if self.seconds else 0.0


def stream_runs(
    targets: list[tuple[str, int, int | None]],
    token: str,
    small_count: int,
    big_mb: int,
) -> list[StreamRow]:
    """targets: (name, port, pid to watch or None). 10 MB x small_count both ways, then one big_mb each way."""
    rows = []
    plan: list[tuple[str, Callable[[int], list[int]], float]] = [
        (
            f"upload {small_count} x 10 MB",
            lambda p: [upload(p, "/v1/import", token, 10 * MB) for _ in range(small_count)],
            small_count * 10.0,
        ),
        (
            f"download {small_count} x 10 MB",
            lambda p: [download(p, "/v1/contacts", token)[0] for _ in range(small_count)],
            small_count * 10.0,
        ),
        (f"upload 1 x {big_mb} MB", lambda p: [upload(p, "/v1/import", token, big_mb * MB)], float(big_mb)),
        (f"download 1 x {big_mb} MB", lambda p: [download(p, "/v1/address_books", token)[0]], float(big_mb)),
    ]
    for what, fn, total in plan:
        for name, port, pid in targets:
            before = rss_kib(pid)[0] if pid else 0
            sampler = RssSampler(pid) if pid else None
            started = time.perf_counter()
            if sampler:
                with sampler:
                    statuses = fn(port)
            else:
                statuses = fn(port)
            secs = time.perf_counter() - started
            after = rss_kib(pid)[0] if pid else 0
            row = StreamRow(
                name, what, total, secs, sorted(set(statuses)), before, sampler.peak if sampler else 0, after
            )
            rows.append(row)
            if row.statuses != [200]:
                raise RuntimeError(f"stream: {name} {what} answered {row.statuses}")
            print(
                f"  {name:<14} {what:<24} {row.mb_s:8.0f} MB/s  statuses {row.statuses}"
                + (f"  RSS {before / 1024:.1f} -> peak {row.rss_peak_kib / 1024:.1f} MiB" if pid else ""),
                flush=True,
            )
    return rows


# --- revocation propagation ------------------------------------------------------------------------------------


def get_status(port: int, token: str) -> tuple[int, float]:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
    started = time.perf_counter()
    try:
        conn.request("GET", "/v1/events", headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.perf_counter() - started
    finally:
        conn.close()


def scrape_histogram(admin_port: int, name: str) -> dict[str, float]:
    conn = http.client.HTTPConnection(LOOPBACK, admin_port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[le] = float(line.rsplit(" ", 1)[1])
        elif line.startswith(name + "_count "):
            out["count"] = float(line.rsplit(" ", 1)[1])
        elif line.startswith(name + "_sum "):
            out["sum"] = float(line.rsplit(" ", 1)[1])
    return out


def histogram_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}


def bucket_quantile(delta: dict[str, float], q: float) -> str:
    """The upper bound of the bucket holding quantile q (Prometheus buckets are cumulative)."""
    count = delta.get("count", 0.0)
    if count <= 0:
        return "n/a"
    bounds = sorted(((float(k), v) for k, v in delta.items() if k not in ("count", "sum", "+Inf")))
    for bound, cum in bounds:
        if cum >= q * count:
            return f"<= {bound * 1000:g} ms"
    return f"> {bounds[-1][0] * 1000:g} ms" if bounds else "n/a"


@dataclass
class Propagation:
    trials: int
    seen_ms: dict[str, list[float]] = field(default_factory=dict)  # time until the process answered 401
    metric: dict[str, dict[str, float]] = field(default_factory=dict)


def propagation(
    gws: list[tuple[str, int, int]],
    tokens: list[str],
    revoke: Callable[[str], None],
) -> Propagation:
    """For each token: warm it on every process, revoke it, poll every process until 401 (bounded to 2 s)."""
    result = Propagation(len(tokens), {n: [] for n, _, _ in gws})
    before = {n: scrape_histogram(a, "scopegate_revocation_propagation_seconds") for n, _, a in gws}
    for token in tokens:
        for _, port, _ in gws:
            for _ in range(2):
                status, _ = get_status(port, token)
                if status != 200:
                    raise RuntimeError(f"propagation: token not accepted before revocation ({status})")
        t0 = time.perf_counter()
        revoke(token)
        pending = {n: p for n, p, _ in gws}
        deadline = t0 + 2.0
        while pending and time.perf_counter() < deadline:
            for n, port in list(pending.items()):
                status, _ = get_status(port, token)
                if status == 401:
                    result.seen_ms[n].append((time.perf_counter() - t0) * 1000)
                    del pending[n]
        for n in pending:
            result.seen_ms[n].append(float("inf"))
    for n, _, a in gws:
        result.metric[n] = histogram_delta(before[n], scrape_histogram(a, "scopegate_revocation_propagation_seconds"))
    return result


# --- deleting an application ----------------------------------------------------------------------------------


class Prober:
    """Requests to a gateway every 2 ms while something happens: the slowest one bounds the event-loop stall."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.latencies: list[float] = []
        self.statuses: set[int] = set()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=10)
        deadline = time.monotonic() + 300
        while not self._stop.is_set() and time.monotonic() < deadline:
            started = time.perf_counter()
            conn.request("GET", "/v1/events", headers={"Authorization": f"Bearer {self.token}"})
            resp = conn.getresponse()
            resp.read()
            self.latencies.append(time.perf_counter() - started)
            self.statuses.add(resp.status)
            self._stop.wait(0.002)
        conn.close()

    def __enter__(self) -> Prober:
        self._t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._t.join(timeout=15)


@dataclass
class Deletion:
    grants: int
    via: str
    return_s: float
    cleanup_s: float
    probe_p50_ms: float
    probe_max_ms: float
    probes: int
    response: str
    probe_p99_ms: float = 0.0
    probes_over_50ms: int = 0


def delete_app(
    admin_port: int,
    admin_token: str,
    client_id: str,
    r: redis.Redis,
    grants_key: str,
    users_key: str,
    probe_port: int,
    probe_token: str,
) -> Deletion:
    with Prober(probe_port, probe_token) as prober:
        time.sleep(0.3)  # a baseline before the deletion
        conn = http.client.HTTPConnection(LOOPBACK, admin_port, timeout=60)
        t0 = time.perf_counter()
        conn.request("DELETE", f"/admin/applications/{client_id}", headers={"Authorization": f"Bearer {admin_token}"})
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace")
        returned = time.perf_counter() - t0
        conn.close()
        if resp.status >= 300:
            raise RuntimeError(f"DELETE returned {resp.status}: {body[:200]}")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and (r.exists(grants_key) or r.exists(users_key)):
            time.sleep(0.005)
        cleaned = time.perf_counter() - t0
        time.sleep(0.3)
    lat = sorted(x * 1000 for x in prober.latencies)
    return Deletion(
        0,
        "admin API",
        returned,
        cleaned,
        statistics.median(lat) if lat else 0.0,
        max(lat) if lat else 0.0,
        len(lat),
        body[:300],
        lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else 0.0,
        sum(1 for x in lat if x > 50),
    )


def redis_used_memory(r: redis.Redis) -> int:
    info = r.info("memory")
    return int(info["used_memory"])


def commands_processed(r: redis.Redis) -> int:
    return int(r.info("stats")["total_commands_processed"])


def dumps(obj: object) -> str:
    return json.dumps(obj, default=lambda o: o.__dict__, indent=1)
