"""`python -m bench.ab`: CPU per request of scopegate at two git refs, over fixed request counts, alternating.

A throughput A/B (`python -m bench --baseline REF`) moves by 10-20% between runs on a shared machine, which hides
a change worth a few microseconds. This one counts instead of timing: for each upstream kind, the gateway as of
each ref (`--base`, default HEAD~1) and this checkout run side by side on core 0 with the upstream and Redis; wrk
(on core 1) sends exactly `--requests` warm requests at `--conns` connections to each in turn, `--reps` times
alternating A B A B; user and system CPU of the gateway process (and of the upstream) are read from /proc
before and after each burst. The report gives the median per ref, and the difference.

    .venv/bin/python -m bench.ab [--base HEAD~1] [--requests 30000] [--reps 5] [--kinds nginx,app]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.procs import Procs
from bench.servers import CLIENT_CORE
from bench.syscalls import tree, upstreams_with_tokens, wrk_fixed

_TCK = os.sysconf("SC_CLK_TCK")


def cpu(pids: list[int]) -> tuple[float, float]:
    """(user, system) CPU seconds of these processes and their threads."""
    user = system = 0.0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            user += int(fields[11]) / _TCK
            system += int(fields[12]) / _TCK
    return user, system


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    p.add_argument("--base", default="HEAD~1", help="git ref to compare this checkout against")
    p.add_argument("--requests", type=int, default=30000)
    p.add_argument("--conns", type=int, default=50)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--kinds", default="nginx,app")
    a = p.parse_args(argv)
    os.sched_setaffinity(0, {CLIENT_CORE})
    workdir = Path(tempfile.mkdtemp(prefix="scopegate-ab-"))
    workdir.chmod(0o755)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "gateway"], capture_output=True, text=True).stdout
    label = f"{head}{'+changes' if dirty.strip() else ''}"
    lines = [f"A/B: {a.base} vs {label}; {a.requests} requests x {a.reps} reps at {a.conns} connections", ""]
    with Procs(workdir) as procs:
        kinds = a.kinds.split(",")
        stack, tokens = upstreams_with_tokens(procs, workdir, kinds)
        base_tree = stack.export_tree(a.base)
        for kind in kinds:
            gws = {
                a.base: stack.start_gateway(f"ab-base-{kind}", source=base_tree, kind=kind),
                label: stack.start_gateway(f"ab-new-{kind}", kind=kind),
            }
            upstream = {n: pr for n, pr in procs._children}["upstream" if kind == "nginx" else "upstream-app"]
            samples: dict[str, list[tuple[float, float, float]]] = {ref: [] for ref in gws}
            for gw in gws.values():
                wrk_fixed(gw.port, tokens, a.conns, 5000)  # warm-up: pools, caches
            for _ in range(a.reps):
                for ref, gw in gws.items():
                    g0, u0 = cpu(tree(gw.proc.pid)), cpu(tree(upstream.pid))
                    n = wrk_fixed(gw.port, tokens, a.conns, a.requests)
                    g1, u1 = cpu(tree(gw.proc.pid)), cpu(tree(upstream.pid))
                    us = 1e6 / n
                    samples[ref].append(
                        ((g1[0] - g0[0]) * us, (g1[1] - g0[1]) * us, (u1[0] + u1[1] - u0[0] - u0[1]) * us)
                    )
            lines += [
                f"## {kind} upstream",
                "",
                "| ref | scopegate user us/req | system us/req | total | upstream us/req | totals per rep |",
                "|---|---:|---:|---:|---:|---|",
            ]
            medians = {}
            for ref, rows in samples.items():
                user = statistics.median(r[0] for r in rows)
                system = statistics.median(r[1] for r in rows)
                total = statistics.median(r[0] + r[1] for r in rows)
                up = statistics.median(r[2] for r in rows)
                medians[ref] = total
                per_rep = ", ".join(f"{r[0] + r[1]:.0f}" for r in rows)
                lines.append(f"| {ref} | {user:.1f} | {system:.1f} | {total:.1f} | {up:.1f} | {per_rep} |")
            diff = medians[label] - medians[a.base]
            lines += ["", f"scopegate CPU per request, {label} minus {a.base}: {diff:+.1f} us", ""]
            print("\n".join(lines[-len(samples) - 7 :]), flush=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
