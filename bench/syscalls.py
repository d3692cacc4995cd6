"""`python -m bench.syscalls`: system calls per request on each leg, for both upstream kinds.

For each upstream kind (nginx `return 200`, aiohttp app server) and each proxying target (the peer, scopegate),
after a warm-up: `strace -c -f` attached to every server process while wrk sends a fixed number of requests (its
Lua script stops after N responses), then the counts divided by N. A second, shorter pass traces the proxy's own
socket calls (`strace -f -e trace=...`) to count writes and bytes per response on the client leg and on the
upstream leg, and the connections opened to the upstream (reuse). strace slows the traced processes several-fold,
so the counts are what one request costs in calls, not a timing.

    .venv/bin/python -m bench.syscalls [--requests 20000] [--conns 50] [--kinds nginx,app]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench.procs import LOOPBACK, Procs, which
from bench.servers import CLIENT_CORE, Stack
from bench.tokens import Minter

LUA = Path(__file__).parent / "count_token.lua"
_LINE = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)\s*$")
_CALL = re.compile(r"^(?:\[pid\s+(\d+)\]\s+|(\d+)\s+)?(\w+)\((\d+),\s*(.*)\)\s+=\s+(-?\d+)")


def wrk_fixed(port: int, tokens: Path, conns: int, n: int) -> int:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            str(CLIENT_CORE),
            which("wrk"),
            "-t1",
            f"-c{conns}",
            "-d600s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            f"http://{LOOPBACK}:{port}/v1/events",
            "--",
            str(tokens),
            "/v1/events",
            str(n),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT "))
    return int(json.loads(line[7:])["requests"])


def upstreams_with_tokens(procs: Procs, workdir: Path, kinds: list[str]) -> tuple[Stack, Path]:
    """Redis, the upstream of each kind, and 1,000 live access tokens in a file for wrk's Lua script."""
    stack = Stack(procs, workdir, access_log=True)
    _, stack.redis_port = stack.start_redis()
    stack.start_upstream({})

    async def mint() -> list[str]:
        async with Minter(stack.redis_url, stack.secret) as m:
            return (await m.tokens(1000)).tokens

    tokens = workdir / "tokens.txt"
    tokens.write_text("".join(t + "\n" for t in asyncio.run(mint())))
    if "app" in kinds:
        stack.start_app_upstream()
    return stack, tokens


def tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").iterdir():
            todo += [int(c) for c in (task / "children").read_text().split()]
    return pids


def cpu_switches(pids: list[int]) -> tuple[float, int, int]:
    """utime + stime (s), voluntary and involuntary context switches of these processes and their threads."""
    cpu, vol, invol = 0.0, 0, 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    vol += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches:"):
                    invol += int(line.split()[1])
    return cpu, vol, invol


def strace_counts(pids: list[int], out: Path) -> subprocess.Popen[bytes]:
    args = [which("strace"), "-c", "-f", "-o", str(out)]
    for p in pids:
        args += ["-p", str(p)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.5)  # attached
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)


def parse_counts(path: Path) -> dict[str, int]:
    calls: dict[str, int] = {}
    for line in path.read_text().splitlines():
        m = _LINE.match(line)
        if m and m.group(3) != "total":
            calls[m.group(3)] = int(m.group(1))
    return calls


def legs(path: Path, upstream_port: int) -> dict[str, float]:
    """Socket calls of one traced process, split into the client leg and the upstream leg by what they carry."""
    fd_leg: dict[tuple[str, int], str] = {}
    c: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        m = _CALL.match(line)
        if not m:
            continue
        pid = m.group(1) or m.group(2) or "0"
        call, fd, rest, ret = m.group(3), int(m.group(4)), m.group(5), int(m.group(6))
        key = (pid, fd)
        if call == "connect" and f"htons({upstream_port})" in rest:
            fd_leg[key] = "upstream"
            c["upstream connects"] += 1
            continue
        if call == "setsockopt" and "TCP_NODELAY" in rest:
            c["setsockopt TCP_NODELAY"] += 1
            continue
        if call in ("write", "sendto", "writev", "sendmsg"):
            leg = (
                "upstream"
                if rest.startswith(('"GET ', '"POST'))
                else fd_leg.get(key) or ("client" if rest.startswith('"HTTP/1.1') else "other")
            )
            if rest.startswith(('"GET ', '"POST')):
                fd_leg[key] = "upstream"
            elif rest.startswith('"HTTP/1.1'):
                fd_leg.setdefault(key, "client")
            c[f"{leg} writes"] += 1
            c[f"{leg} bytes written"] += max(ret, 0)
        elif call in ("read", "recvfrom", "recvmsg"):
            leg = fd_leg.get(key) or (
                "upstream" if rest.startswith('"HTTP/1.1') else "client" if rest.startswith('"GET ') else "other"
            )
            if rest.startswith('"HTTP/1.1'):
                fd_leg[key] = "upstream"
            c[f"{leg} reads{' (EAGAIN)' if ret < 0 else ''}"] += 1
            c[f"{leg} bytes read"] += max(ret, 0)
    return dict(c)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.syscalls", description=__doc__)
    p.add_argument("--requests", type=int, default=20000)
    p.add_argument("--conns", type=int, default=50)
    p.add_argument("--kinds", default="nginx,app")
    p.add_argument("--trace-requests", type=int, default=3000, help="requests for the per-call trace pass")
    a = p.parse_args(argv)
    os.sched_setaffinity(0, {CLIENT_CORE})
    workdir = Path(tempfile.mkdtemp(prefix="scopegate-sys-"))
    workdir.chmod(0o755)
    report: list[str] = []
    try:
        with Procs(workdir) as procs:
            kinds = a.kinds.split(",")
            stack, tf = upstreams_with_tokens(procs, workdir, kinds)
            names = {c[0]: c[1] for c in procs._children}
            for kind in kinds:
                stack.start_peer(kind)
                gw = stack.start_gateway(f"scopegate-{kind}", kind=kind)
                names = {n: pr for n, pr in procs._children}
                cwd = os.readlink(f"/proc/{gw.proc.pid}/cwd")
                report.append(f"## {kind} upstream (scopegate pid {gw.proc.pid}, cwd {cwd})")
                up = names["upstream" if kind == "nginx" else "upstream-app"]
                peer_nginx = names[f"peer-{kind}"]
                targets = {
                    "direct upstream": (stack.upstream_port_of(kind), {"upstream": up.pid}),
                    "nginx+auth_request": (
                        stack.peers[kind][0],
                        {
                            "upstream": up.pid,
                            "peer nginx": peer_nginx.pid,
                            "auth service": names["peer_auth"].pid,
                            "redis": names["redis"].pid,
                        },
                    ),
                    "scopegate": (gw.port, {"upstream": up.pid, "scopegate": gw.proc.pid}),
                }
                for tname, (port, watched) in targets.items():
                    wrk_fixed(port, tf, a.conns, 5000)  # warm-up: pools, caches
                    # untraced: CPU and context switches per request of each process
                    before = {role: cpu_switches(tree(pid)) for role, pid in watched.items()}
                    n = wrk_fixed(port, tf, a.conns, a.requests * 3)
                    rows = []
                    for role, pid in watched.items():
                        c1, v1, i1 = cpu_switches(tree(pid))
                        c0, v0, i0 = before[role]
                        rows.append(
                            f"| {tname} | {role} | {(c1 - c0) * 1e6 / n:.0f} | {(v1 - v0) / n:.2f} | "
                            f"{(i1 - i0) / n:.2f} |"
                        )
                    report += [
                        f"### {tname}: CPU and context switches, {n} requests at {a.conns} connections (no strace)",
                        "",
                        "| target | process | CPU us/req | voluntary cs/req | involuntary cs/req |",
                        "|---|---|---:|---:|---:|",
                        *rows,
                        "",
                    ]
                    print("\n".join(report[-len(rows) - 4 :]), flush=True)
                    tracers = {}
                    for role, pid in watched.items():
                        tracers[role] = (
                            strace_counts(tree(pid), workdir / f"{kind}-{tname}-{role}.txt"),
                            workdir / f"{kind}-{tname}-{role}.txt",
                        )
                    n = wrk_fixed(port, tf, a.conns, a.requests)
                    rows = []
                    for role, (tr, path) in tracers.items():
                        stop(tr)
                        calls = parse_counts(path)
                        total = sum(calls.values())
                        top = ", ".join(f"{k} {v / n:.2f}" for k, v in sorted(calls.items(), key=lambda kv: -kv[1])[:6])
                        rows.append(f"| {tname} | {role} | {total / n:.2f} | {top} |")
                    report += [
                        f"### {tname}: {n} requests at {a.conns} connections",
                        "",
                        "| target | process | syscalls/req | top calls per request |",
                        "|---|---|---:|---|",
                        *rows,
                        "",
                    ]
                    print("\n".join(report[-len(rows) - 4 :]), flush=True)
                # per-call trace of the proxy processes: legs, writes and bytes per response, upstream connects
                for tname, pid in (("scopegate", gw.proc.pid), ("peer nginx", peer_nginx.pid)):
                    port = gw.port if tname == "scopegate" else stack.peers[kind][0]
                    wrk_fixed(port, tf, a.conns, 3000)
                    out = workdir / f"{kind}-{tname}-trace.txt"
                    args = [
                        which("strace"),
                        "-f",
                        "-s",
                        "12",
                        "-o",
                        str(out),
                        "-e",
                        "trace=read,write,writev,sendto,recvfrom,sendmsg,recvmsg,connect,setsockopt",
                    ]
                    for q in tree(pid):
                        args += ["-p", str(q)]
                    tr = subprocess.Popen(
                        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
                    )
                    time.sleep(0.5)
                    n = wrk_fixed(port, tf, a.conns, a.trace_requests)
                    stop(tr)
                    legs_ = legs(out, stack.upstream_port_of(kind))
                    report += [
                        f"### {tname} socket calls per request ({n} requests, {a.conns} connections)",
                        "",
                        "| what | per request |",
                        "|---|---:|",
                        *[f"| {k} | {v / n:.2f} |" for k, v in sorted(legs_.items())],
                        "",
                    ]
                    print("\n".join(report[-len(legs_) - 4 :]), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
