"""bench/RESULTS.md: the machine, the versions, and every figure of the run."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from bench.load import Cell

if TYPE_CHECKING:
    from bench.runner import Results

ROOT = Path(__file__).resolve().parent.parent


def _cmd(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "?"
    return (out.stdout + out.stderr).strip().splitlines()[0] if (out.stdout + out.stderr).strip() else "?"


def machine() -> list[str]:
    cpu: dict[str, str] = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        k, _, v = line.partition(":")
        cpu.setdefault(k.strip(), v.strip())
    mem = next(
        (ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")), "0"
    )

    def ver(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "not installed"

    commit = _cmd(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _cmd(["git", "-C", str(ROOT), "status", "--porcelain", "--", "gateway"])
    return [
        f"- CPU: {cpu.get('model name', '?')}, {os.cpu_count()} logical CPUs (`nproc`), "
        f"{cpu.get('cpu MHz', '?')} MHz, cache {cpu.get('cache size', '?')}",
        f"- Memory: {int(mem) // 1024} MiB; kernel {platform.release()}",
        "- Pinning: servers (redis, upstream nginx, peer nginx + auth service, scopegate) on core 0 via `taskset`; "
        "wrk and the benchmark driver on core 1",
        f"- Python {platform.python_version()}; aiohttp {ver('aiohttp')}, redis-py {ver('redis')}, "
        f"hiredis {ver('hiredis')}, uvloop {ver('uvloop')}",
        f"- {_cmd(['nginx', '-v'])}; {_cmd(['wrk', '-v'])}; {_cmd(['redis-server', '--version'])}",
        f"- scopegate commit {commit} when the run started"
        f"{' (gateway/ modified in the working tree)' if dirty not in ('', '?') else ''}",
    ]


def _cell(cells: list[Cell], target: str, conns: int) -> Cell | None:
    return next((c for c in cells if c.target == target and c.conns == conns), None)


def _ratio(a: float, b: float | None) -> str:
    return f"{a / b:.2f}" if b else "-"


def throughput_table(name: str, cells: list[Cell]) -> list[str]:
    out = [
        "| target | conns | req/s (median) | spread | p50 ms | p99 ms | vs direct | vs peer | Redis cmds/req "
        "| server CPU us/req | CPU vs peer |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cells:
        d = _cell(cells, "direct upstream", c.conns)
        p = _cell(cells, "nginx+auth_request", c.conns)
        out.append(
            f"| {c.target} | {c.conns} | {c.rps:,.0f} | {c.spread:.0%} | {c.p50:.3f} | {c.p99:.3f} | "
            f"{_ratio(c.rps, d.rps if d else None)} | {_ratio(c.rps, p.rps if p else None)} | "
            f"{c.redis_per_req:.2f} | {c.cpu_us:.0f} | {_ratio(c.cpu_us, p.cpu_us if p else None)} |"
        )
    return out


def headline(res: Results) -> list[str]:
    """The targets of issue 13, one column per upstream kind (side by side)."""
    from bench.runner import KIND_NAMES

    t = res.throughput
    kinds = [k for k in res.options.upstreams if any(key[0] == k for key in t)] or res.options.upstreams[:1]
    rows = [
        "| figure | " + " | ".join(KIND_NAMES[k] for k in kinds) + " | target (issue 13) |",
        "|---|" + "---|" * len(kinds) + "---|",
    ]

    def get(kind: str, s: str, target: str, conns: int) -> Cell | None:
        return _cell(t.get((kind, s), []), target, conns)

    def row(figure: str, cells: list[str], goal: str) -> None:
        if any(c != "-" for c in cells):
            rows.append(f"| {figure} | " + " | ".join(cells) + f" | {goal} |")

    for scen, sg_name, goal in (("warm", "scopegate", ">= 1.5"), ("nocache", "scopegate nocache", ">= 1.2")):
        for conns in res.options.conns:
            thr, cpu, vsd = [], [], []
            for k in kinds:
                sg, pe, di = (
                    get(k, scen, sg_name, conns),
                    get(k, scen, "nginx+auth_request", conns),
                    get(k, scen, "direct upstream", conns),
                )
                thr.append(f"{sg.rps / pe.rps:.2f}x ({sg.rps:,.0f} vs {pe.rps:,.0f} req/s)" if sg and pe else "-")
                cpu.append(
                    f"{sg.cpu_us:.0f} vs {pe.cpu_us:.0f} us ({pe.cpu_us / sg.cpu_us:.2f}x less)" if sg and pe else "-"
                )
                vsd.append(f"{sg.rps / di.rps:.2f}" if sg and di else "-")
            row(f"{scen}: scopegate / peer throughput, {conns} conns", thr, goal if conns == 50 else "-")
            row(f"{scen}: server CPU per request, scopegate vs peer ({conns} conns)", cpu, "stated")
            row(f"{scen}: scopegate / direct throughput, {conns} conns", vsd, "-")
    p99s, over = [], []
    for k in kinds:
        sg, pe = get(k, "warm", "scopegate", 50), get(k, "warm", "nginx+auth_request", 50)
        p99s.append(f"{sg.p99:.2f} ms vs {pe.p99:.2f} ms" if sg and pe else "-")
        sg, di = get(k, "warm", "scopegate", 1), get(k, "warm", "direct upstream", 1)
        over.append(f"{sg.p50 - di.p50:+.3f} ms / {sg.p99 - di.p99:+.3f} ms" if sg and di else "-")
    row("warm: p99 at 50 conns, scopegate vs peer", p99s, "no worse than peer")
    row("warm: p50 / p99 over direct at 1 conn", over, "<= +0.25 / +0.6 ms")
    for scen in ("invalid", "revoked", "notoken", "denied"):
        vals = []
        for k in kinds:
            c, warm = get(k, scen, "scopegate", 50), get(k, "warm", "scopegate", 50)
            rel = f", {c.rps / warm.rps:.2f}x the warm allowed rate" if c and warm else ""
            vals.append(f"{c.rps:,.0f}{rel}; {c.redis_per_req:.2f} Redis cmds/req" if c else "-")
        row(f"{scen}: scopegate req/s at 50 conns", vals, "cheaper than allowed; <= 1 Redis call (0 for bad checksum)")
    rows += ["", "| figure | value | target |", "|---|---|---|"]
    sgs = [s for s in res.stream if s.target == "scopegate"]
    if sgs:
        growth = max(s.rss_peak_kib - s.rss_before_kib for s in sgs) / 1024
        rows.append(f"| streaming: scopegate peak RSS growth over any transfer | {growth:.1f} MiB | <= 5 MB |")
    if res.scale:
        rows.append(f"| Redis memory per live access token | {res.scale['per_token']:.0f} bytes | <= 250 bytes |")
    if res.deletion:
        d = res.deletion
        rows.append(
            f"| delete app with {d.grants:,} authorizations: return / clean-up done | "
            f"{d.return_s * 1000:.0f} ms / {d.cleanup_s:.2f} s | < 1 s to return |"
        )
        rows.append(
            f"| delete: slowest proxied request during it (event-loop stall bound) | "
            f"{d.probe_max_ms:.1f} ms (p50 {d.probe_p50_ms:.2f}, p99 {d.probe_p99_ms:.1f} ms; "
            f"{d.probes_over_50ms} of {d.probes} over 50 ms; wall clock, includes OS preemption by Redis "
            f"on the shared core) | no stall over 50 ms |"
        )
    if res.propagation:
        allv = sorted(v for vs in res.propagation.seen_ms.values() for v in vs)
        if allv:
            p99 = allv[min(len(allv) - 1, int(0.99 * len(allv)))]
            rows.append(
                f"| revocation seen as 401 on both processes, p50 / p99 / max | "
                f"{statistics.median(allv):.1f} / {p99:.1f} / {allv[-1]:.1f} ms | p99 <= 100 ms |"
            )
    return rows


def write(res: Results, path: Path) -> None:
    o = res.options
    lines = [
        "# scopegate benchmark results",
        "",
        f"Written by `python -m bench{' --quick' if o.quick else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(res.started))}"
        + (f" in {res.elapsed:.0f} s" if res.elapsed else " (partial: still running or interrupted)")
        + ". See bench/README.md for what each scenario does and how to read it.",
        "",
        "## Machine",
        "",
        *res.machine,
        "",
        f"- Load average at start / when written: {res.loadavg_start} / {Path('/proc/loadavg').read_text().strip()} "
        "(other work on this machine, e.g. concurrent test runs, shows up here and in the spread column)",
        "",
        "## Method",
        "",
        "- Two upstream kinds, each answering every GET with the same 213-byte JSON body: nginx `return 200` and "
        "an application server (aiohttp on uvloop, keep-alive, bench/floor.py `app`). For each kind every target "
        "(direct, peer, scopegate processes, floors) sits in front of that upstream; streaming, propagation and "
        f"deletion use the nginx upstream. Upstream kinds measured: {', '.join(o.upstreams)}. "
        f"wrk -t1 picks one of {o.tokens:,} random tokens per request (Lua).",
        "- Each target gets a 1 s unmeasured warm-up (token cache filled, pools open) first. "
        f"Targets alternate A B C A B C ..., {o.reps} repetitions of {o.duration:g} s each, at {o.conns} "
        f"connections (401/403 scenarios at {o.denial_conns}). Figures are medians over the repetitions; "
        f"spread = (max - min) / median req/s.",
        "- The peer: nginx (1 worker) + `auth_request` to bench/peer_auth.py (aiohttp on uvloop, redis-py: "
        "HMAC the token, one GET, check expiry and scope). scopegate: `scopegate serve`, 1 process, "
        f"access log {'on (to a file)' if o.access_log else 'off'}.",
        "- Server CPU us/req: utime + stime of every server process the benchmark started (upstream, peer, "
        "auth service, Redis, scopegate processes, with children) over the run / requests. Unlike req/s it does not "
        "depend on what else runs on the machine, so it is the figure to compare when the spread is large.",
        "- Redis cmds/req: Redis `total_commands_processed` delta over the run / requests (includes the "
        "peer's lookups when the peer is the target).",
        "",
        "## Headline",
        "",
        *headline(res),
        "",
    ]
    from bench.runner import DESCRIPTIONS, KIND_NAMES

    for (kind, name), cells in res.throughput.items():
        lines += [
            f"## Throughput: {name}, {KIND_NAMES[kind]}",
            "",
            DESCRIPTIONS[name],
            "",
            *throughput_table(name, cells),
            "",
        ]
    if res.stream:
        lines += [
            "## Streaming (memory of the gateway process)",
            "",
            "VmRSS of the scopegate process from /proc/PID/status, sampled every 10 ms during each transfer.",
            "",
            "| target | transfer | MB/s | statuses | RSS before MiB | peak MiB | after MiB | growth MiB |",
            "|---|---|---:|---|---:|---:|---:|---:|",
        ]
        for s in res.stream:
            mem = (
                (
                    f"{s.rss_before_kib / 1024:.1f} | {s.rss_peak_kib / 1024:.1f} | {s.rss_after_kib / 1024:.1f} | "
                    f"{(s.rss_peak_kib - s.rss_before_kib) / 1024:.1f}"
                )
                if s.rss_before_kib
                else "- | - | - | -"
            )
            lines.append(f"| {s.target} | {s.what} | {s.mb_s:,.0f} | {s.statuses} | {mem} |")
        lines.append("")
    if res.propagation:
        p = res.propagation
        lines += [
            "## Revocation propagation (2 scopegate processes)",
            "",
            f"{p.trials} trials: warm a token on both processes, revoke it through the store (one publish), "
            "poll both until they answer 401. Time to 401 includes the polling request itself (~1 ms). "
            "The metric column is `scopegate_revocation_propagation_seconds` scraped from each process's "
            "/metrics (bucket upper bounds; delta over this scenario).",
            "",
            "| process | p50 ms | p99 ms | max ms | metric count | metric mean ms | metric p99 bucket |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for name, vals in p.seen_ms.items():
            v = sorted(vals)
            m = p.metric.get(name, {})
            cnt = m.get("count", 0.0)
            mean = f"{m.get('sum', 0.0) / cnt * 1000:.2f}" if cnt else "-"
            from bench.extras import bucket_quantile

            lines.append(
                f"| {name} | {statistics.median(v):.2f} | {v[min(len(v) - 1, int(0.99 * len(v)))]:.2f} | "
                f"{v[-1]:.2f} | {cnt:.0f} | {mean} | {bucket_quantile(m, 0.99)} |"
            )
        lines.append("")
    if res.deletion:
        d = res.deletion
        lines += [
            "## Deleting an application",
            "",
            f"An application with {d.grants:,} authorizations (grant, refresh token, access token, consent "
            f"row each) deleted with `DELETE /admin/applications/{{client_id}}` ({d.via}). Clean-up end = "
            "its grants set and users set are gone from Redis (polled every 5 ms). Meanwhile a prober sends a "
            "proxied GET to the same process every 2 ms; its slowest request bounds the event-loop stall.",
            "",
            f"- time to return: {d.return_s * 1000:.1f} ms",
            f"- time until clean-up ended: {d.cleanup_s:.2f} s",
            f"- prober: {d.probes} requests, p50 {d.probe_p50_ms:.2f} ms, p99 {d.probe_p99_ms:.1f} ms, "
            f"max {d.probe_max_ms:.1f} ms, {d.probes_over_50ms} over 50 ms (wall clock: Redis, busy with the "
            "clean-up, shares core 0 with the gateway, so this bounds the loop stall from above)",
            f"- response: `{d.response}`",
            "",
        ]
    if res.scale:
        sc = res.scale
        lines += [
            "## Redis memory per live access token",
            "",
            f"{sc['tokens']:,.0f} access tokens written with `save_access_tokens` into a fresh redis-server "
            f"(scopegate's key and value format, TTL set) in {sc['fill_s']:.1f} s.",
            "",
            f"- used_memory before / after: {sc['bytes_before']:,.0f} / {sc['bytes_after']:,.0f} bytes "
            f"({sc['keys']:,.0f} keys)",
            f"- **{sc['per_token']:.1f} bytes per token** (used_memory delta / tokens); "
            f"used_memory_rss after: {sc['rss_after'] / 1024 / 1024:.0f} MiB",
            "",
        ]
    if res.log:
        lines += ["## Every run", "", "```", *res.log, "```", ""]
    path.write_text("\n".join(lines))
