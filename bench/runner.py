"""`python -m bench`: set everything up on loopback, run the scenarios, write bench/RESULTS.md."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import redis

from bench import extras, report
from bench.load import Cell, Target, alternate, probe
from bench.procs import Procs, ensure_tools
from bench.servers import CLIENT_CORE, Stack
from bench.tokens import Minter, bad_checksum

THROUGHPUT = ("warm", "nocache", "invalid", "revoked", "notoken", "denied")
OTHER = ("stream", "propagation", "delete", "tokens")
SCENARIOS = THROUGHPUT + OTHER
KINDS = ("nginx", "app")  # upstream kinds: nginx `return 200`; an application server (aiohttp on uvloop)
KIND_NAMES = {"nginx": "nginx upstream", "app": "application-server upstream (aiohttp)"}
DESCRIPTIONS = {
    "warm": "valid token, GET /v1/events (events:read), scopegate's token cache warm",
    "nocache": "valid token, scopegate with `cache: {enabled: false}` (one Redis lookup per request)",
    "invalid": "token with a wrong checksum (401)",
    "revoked": "revoked access token (401)",
    "notoken": "no Authorization header (401)",
    "denied": "valid token without the route's scope, GET /v1/calendars (403)",
}


@dataclass
class Options:
    duration: float
    reps: int
    conns: list[int]
    denial_conns: list[int]
    scenarios: list[str]
    tokens: int
    scale_tokens: int
    delete_grants: int
    stream_count: int
    stream_big_mb: int
    propagation_trials: int
    access_log: bool
    output: Path
    quick: bool
    baseline: str | None = None
    upstreams: list[str] = field(default_factory=lambda: list(KINDS))
    references: bool = True


@dataclass
class Results:
    options: Options
    throughput: dict[tuple[str, str], list[Cell]] = field(default_factory=dict)  # (upstream kind, scenario)
    stream: list[extras.StreamRow] = field(default_factory=list)
    propagation: extras.Propagation | None = None
    deletion: extras.Deletion | None = None
    scale: dict[str, float] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    loadavg_start: str = field(default_factory=lambda: Path("/proc/loadavg").read_text().strip())
    machine: list[str] = field(default_factory=report.machine)  # taken at start: the commit the servers run
    elapsed: float = 0.0


def parse_args(argv: list[str] | None) -> Options:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument(
        "--quick",
        action="store_true",
        help="short runs and smaller scale runs (about 3 minutes): 2 s per run, 100k tokens, "
        "10k-grant deletion, 100 MB streams, 20 propagation trials",
    )
    p.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}",
    )
    p.add_argument("--duration", type=float, help="seconds per wrk run (default 5, --quick 2)")
    p.add_argument("--reps", type=int, default=3, help="repetitions of each A B A B round (default 3)")
    p.add_argument("--conns", default="50,1", help="connection counts for warm/nocache (default 50,1)")
    p.add_argument("--denial-conns", default="50", help="connection counts for the 401/403 scenarios (default 50)")
    p.add_argument("--tokens", type=int, default=1000, help="random tokens wrk picks from (default 1000)")
    p.add_argument("--scale-tokens", type=int, help="live tokens for the Redis size run (default 1,000,000)")
    p.add_argument("--delete-grants", type=int, help="authorizations of the deleted application (default 100,000)")
    p.add_argument("--stream-count", type=int, help="10 MB transfers each way (default 10, --quick 3)")
    p.add_argument("--stream-big-mb", type=int, help="size of the single large transfer each way (default 1024)")
    p.add_argument("--propagation-trials", type=int, help="revocations timed across 2 processes (default 50)")
    p.add_argument("--no-access-log", action="store_true", help="run scopegate with access_log: false")
    p.add_argument(
        "--baseline",
        metavar="GIT_REF",
        help="also run scopegate as of GIT_REF (e.g. HEAD~1) as an extra target in warm and nocache: "
        "an A/B of a code change within one run",
    )
    p.add_argument(
        "--upstreams",
        default=",".join(KINDS),
        help="upstream kinds for the throughput scenarios: nginx (`return 200`), app (aiohttp on uvloop); default both",
    )
    p.add_argument(
        "--no-references",
        action="store_true",
        help="warm: leave out the nginx plain proxy and the aiohttp floors (shorter A/B runs)",
    )
    p.add_argument("--output", type=Path, default=Path(__file__).parent / "RESULTS.md")
    a = p.parse_args(argv)
    for kind in a.upstreams.split(","):
        if kind and kind not in KINDS:
            p.error(f"--upstreams: unknown kind {kind!r} (known: {', '.join(KINDS)})")
    q = a.quick
    return Options(
        duration=a.duration or (2.0 if q else 5.0),
        reps=a.reps,
        conns=[int(x) for x in a.conns.split(",")],
        denial_conns=[int(x) for x in a.denial_conns.split(",")],
        scenarios=a.scenario or list(SCENARIOS),
        tokens=a.tokens,
        scale_tokens=a.scale_tokens or (100_000 if q else 1_000_000),
        delete_grants=a.delete_grants or (10_000 if q else 100_000),
        stream_count=a.stream_count or (3 if q else 10),
        stream_big_mb=a.stream_big_mb or (100 if q else 1024),
        propagation_trials=a.propagation_trials or (20 if q else 50),
        access_log=not a.no_access_log,
        output=a.output,
        quick=q,
        baseline=a.baseline,
        upstreams=[k for k in a.upstreams.split(",") if k],
        references=not a.no_references,
    )


def _interrupt(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if (os.cpu_count() or 1) < 2:
        print("the benchmark needs 2 cores (servers on core 0, load generator on core 1)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started with SIGINT ignored (e.g. from a script with &)
    ensure_tools()
    os.sched_setaffinity(0, {CLIENT_CORE})  # this driver (and its probes) stays off the servers' core
    workdir = Path(tempfile.mkdtemp(prefix="scopegate-bench-"))
    workdir.chmod(0o755)  # nginx workers run as an unprivileged user and serve the download blobs from here
    results = Results(opts)
    try:
        with Procs(workdir) as procs:
            run(opts, Stack(procs, workdir, access_log=opts.access_log), results)
    except KeyboardInterrupt:
        print("interrupted: all processes stopped", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results.elapsed = time.time() - results.started
    report.write(results, opts.output)
    print(f"wrote {opts.output} ({results.elapsed:.0f} s)")
    return 0


def run(opts: Options, stack: Stack, results: Results) -> None:
    want = set(opts.scenarios)
    _, stack.redis_port = stack.start_redis()
    r = redis.Redis(host="127.0.0.1", port=stack.redis_port, decode_responses=True)
    big = opts.stream_big_mb * extras.MB
    stack.start_upstream({"/v1/contacts": 10 * extras.MB, "/v1/address_books": big})

    async def mint() -> tuple[list[str], list[str], list[str], list[str]]:
        async with Minter(stack.redis_url, stack.secret) as m:
            valid = (await m.tokens(opts.tokens)).tokens
            revoked = (await m.tokens(opts.tokens)).tokens
            await m.revoke(revoked)
            narrow = (await m.tokens(opts.tokens, scopes=("events:read",))).tokens
            prop = (await m.tokens(opts.propagation_trials, users=opts.propagation_trials)).tokens
            return valid, revoked, narrow, prop

    valid, revoked, narrow, prop_tokens = asyncio.run(mint())
    files = {}
    for name, toks in (
        ("valid", valid),
        ("revoked", revoked),
        ("invalid", [bad_checksum(t) for t in valid]),
        ("none", []),
        ("narrow", narrow),
    ):
        files[name] = stack.dir / f"tokens-{name}.txt"
        files[name].write_text("".join(t + "\n" for t in toks))
    kinds = opts.upstreams
    if "app" in kinds:
        stack.start_app_upstream()
    stack.start_peer("nginx")  # the stream scenario uses the nginx-upstream peer whatever the kinds measured
    sg = stack.start_gateway("scopegate")
    tree = stack.export_tree(opts.baseline) if opts.baseline else None
    for kind in kinds:
        if kind != "nginx":
            stack.start_peer(kind)
        _throughput(opts, stack, results, kind, sg.port if kind == "nginx" else None, tree, files, r, want)

    if "stream" in want:
        print("== stream: 10 MB transfers and one large transfer each way", flush=True)
        results.stream = extras.stream_runs(
            [
                ("direct upstream", stack.upstream_port, None),
                ("nginx+auth_request", stack.peer_port, None),
                ("scopegate", sg.port, sg.proc.pid),
            ],
            valid[0],
            opts.stream_count,
            opts.stream_big_mb,
        )
        report.write(results, opts.output)

    if "propagation" in want:
        print("== propagation: revoke a warm token, time until 2 scopegate processes answer 401", flush=True)
        sg2 = stack.start_gateway("scopegate-2")

        loop = asyncio.new_event_loop()
        minter = Minter(stack.redis_url, stack.secret)
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            # One store connection kept open on a loop of its own: the clock starts just before the revocation.
            asyncio.run_coroutine_threadsafe(minter.__aenter__(), loop).result(30)

            def revoke(token: str) -> None:
                asyncio.run_coroutine_threadsafe(minter.revoke([token]), loop).result(30)

            results.propagation = extras.propagation(
                [("process 1", sg.port, sg.admin_port), ("process 2", sg2.port, sg2.admin_port)], prop_tokens, revoke
            )
            asyncio.run_coroutine_threadsafe(minter.__aexit__(), loop).result(30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()
        stack.procs.stop(sg2.proc)
        for n, vals in results.propagation.seen_ms.items():
            print(f"  {n}: median {sorted(vals)[len(vals) // 2]:.2f} ms, max {max(vals):.2f} ms to 401", flush=True)
        report.write(results, opts.output)

    if "delete" in want:
        print(f"== delete: an application with {opts.delete_grants:,} authorizations via the admin API", flush=True)

        async def build_app() -> str:
            async with Minter(stack.redis_url, stack.secret) as m:
                return await m.app_with_grants(opts.delete_grants)

        t0 = time.perf_counter()
        client_id = asyncio.run(build_app())
        print(f"  set-up {time.perf_counter() - t0:.1f} s", flush=True)
        from gateway.store import keyspace as ks

        d = extras.delete_app(
            sg.admin_port,
            stack.admin_token,
            client_id,
            r,
            ks.app_grants(client_id),
            ks.client_users(client_id),
            sg.port,
            valid[1],
        )
        d.grants = opts.delete_grants
        results.deletion = d
        print(
            f"  returned in {d.return_s * 1000:.1f} ms, clean-up done after {d.cleanup_s:.2f} s, "
            f"probe max {d.probe_max_ms:.1f} ms (p50 {d.probe_p50_ms:.2f} ms)",
            flush=True,
        )
        report.write(results, opts.output)

    if "tokens" in want:
        print(f"== tokens: Redis memory for {opts.scale_tokens:,} live access tokens (a fresh Redis)", flush=True)
        proc, port = stack.start_redis("redis-scale")
        rs = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
        url = f"redis://127.0.0.1:{port}/0"

        async def fill() -> None:
            async with Minter(url, stack.secret) as m:
                await m.bulk_live_tokens(opts.scale_tokens)

        base = extras.redis_used_memory(rs)
        t0 = time.perf_counter()
        asyncio.run(fill())
        took = time.perf_counter() - t0
        used = extras.redis_used_memory(rs)
        keys = int(rs.dbsize())
        results.scale = {
            "tokens": float(opts.scale_tokens),
            "bytes_before": float(base),
            "bytes_after": float(used),
            "per_token": (used - base) / opts.scale_tokens,
            "keys": float(keys),
            "fill_s": took,
            "rss_after": float(rs.info("memory")["used_memory_rss"]),
        }
        print(
            f"  {results.scale['per_token']:.1f} bytes per token (used_memory delta), {took:.1f} s to insert",
            flush=True,
        )
        rs.close()
        stack.procs.stop(proc)
    results.elapsed = time.time() - results.started


def _throughput(
    opts: Options,
    stack: Stack,
    results: Results,
    kind: str,
    sg_port: int | None,
    tree: Path | None,
    files: dict[str, Path],
    r: redis.Redis,
    want: set[str],
) -> None:
    """The throughput scenarios against the upstream of `kind`: every target in front of that upstream."""
    if not want & set(THROUGHPUT):
        return
    suffix = "" if kind == "nginx" else f"-{kind}"
    if sg_port is None:
        sg_port = stack.start_gateway(f"scopegate{suffix}", kind=kind).port
    sg_nc = stack.start_gateway(f"scopegate-nocache{suffix}", cache=False, kind=kind) if "nocache" in want else None
    base_warm: list[Target] = []
    base_nc: list[Target] = []
    if tree is not None:
        base_warm = [
            Target(f"scopegate@{opts.baseline}", stack.start_gateway(f"base{suffix}", source=tree, kind=kind).port)
        ]
        if "nocache" in want:
            base_nc = [
                Target(
                    f"scopegate nocache@{opts.baseline}",
                    stack.start_gateway(f"base-nc{suffix}", cache=False, source=tree, kind=kind).port,
                )
            ]
    peer_port, plain_port = stack.peers[kind]
    floors = (
        [
            Target("aiohttp hello (floor)", stack.start_floor("hello", kind)),
            Target("bare aiohttp proxy", stack.start_floor("proxy", kind)),
        ]
        if "warm" in want and opts.references
        else []
    )
    direct = Target("direct upstream", stack.upstream_port_of(kind))
    plain = [Target("nginx plain proxy", plain_port)] if opts.references else []
    peer = Target("nginx+auth_request", peer_port)
    gate = Target("scopegate", sg_port)
    plan: dict[str, tuple[list[Target], str, str, int, list[int]]] = {
        "warm": ([direct, *plain, peer, gate, *base_warm, *floors], "/v1/events", "valid", 200, opts.conns),
        "nocache": (
            [direct, peer, Target("scopegate nocache", sg_nc.port if sg_nc else 0), *base_nc],
            "/v1/events",
            "valid",
            200,
            opts.conns,
        ),
        "invalid": ([peer, gate], "/v1/events", "invalid", 401, opts.denial_conns),
        "revoked": ([peer, gate], "/v1/events", "revoked", 401, opts.denial_conns),
        "notoken": ([peer, gate], "/v1/events", "none", 401, opts.denial_conns),
        "denied": ([peer, gate], "/v1/calendars", "narrow", 403, opts.denial_conns),
    }
    for name in THROUGHPUT:
        if name not in want:
            continue
        targets, path, tok, expect, conns = plan[name]
        words = files[tok].read_text().split()
        sample = words[0] if words else None
        for t in targets:
            want_status = 200 if t is direct else expect
            got = probe(t.port, path, sample)
            if got != want_status:
                raise RuntimeError(f"{name} ({KIND_NAMES[kind]}): {t.name} answered {got}, expected {want_status}")
        header = f"== {name} [{KIND_NAMES[kind]}]: {DESCRIPTIONS[name]}"
        print(header, flush=True)
        results.log.append(header)
        results.throughput[(kind, name)] = alternate(
            targets,
            path,
            files[tok],
            conns,
            opts.reps,
            opts.duration,
            results.log,
            lambda: extras.commands_processed(r),
            stack.procs.cpu_seconds,
        )
        report.write(results, opts.output)
