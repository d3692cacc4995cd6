"""`python -m bench.profile`: py-spy on one scopegate process under wrk load (warm path by default).

Prints self and inclusive sample shares by function and writes the collapsed stacks next to --out (flamegraph
input). Same set-up as `python -m bench` (pinned cores, nginx upstream, 1,000 random tokens).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench.load import run_wrk
from bench.procs import Procs
from bench.servers import CLIENT_CORE, Stack
from bench.tokens import Minter


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarise(collapsed: Path, top: int) -> list[str]:
    self_n: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, n_text = line.rpartition(" ")
        if not stack:
            continue
        n = int(n_text)
        frames = [f for f in stack.split(";")[1:]]  # first frame: the process/thread name
        if not frames:
            continue
        total += n
        self_n[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    out = [f"total samples: {total}", "", "| self % | function |", "|---:|---|"]
    out += [f"| {n / total:.1%} | `{f}` |" for f, n in self_n.most_common(top)]
    out += ["", "| inclusive % | function |", "|---:|---|"]
    out += [f"| {n / total:.1%} | `{f}` |" for f, n in incl.most_common(top)]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument("--duration", type=int, default=15)
    p.add_argument("--conns", type=int, default=50)
    p.add_argument("--nocache", action="store_true", help="profile with the token cache disabled")
    p.add_argument("--path", default="/v1/events", help="request path (default /v1/events, needs events:read)")
    p.add_argument("--no-token", action="store_true", help="send no Authorization header (e.g. --path /v1/status)")
    p.add_argument("--no-access-log", action="store_true")
    p.add_argument(
        "--upstream",
        choices=("nginx", "app"),
        default="nginx",
        help="upstream kind: nginx `return 200` (default) or the aiohttp application server",
    )
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--gil", action="store_true", help="py-spy --gil: only samples holding the GIL")
    p.add_argument("--out", type=Path, default=Path("/tmp/scopegate-profile.txt"))
    a = p.parse_args(argv)
    os.sched_setaffinity(0, {CLIENT_CORE})
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    workdir = Path(tempfile.mkdtemp(prefix="scopegate-prof-"))
    workdir.chmod(0o755)
    try:
        with Procs(workdir) as procs:
            stack = Stack(procs, workdir, access_log=not a.no_access_log)
            _, stack.redis_port = stack.start_redis()
            stack.start_upstream({})
            if a.upstream == "app":
                stack.start_app_upstream()

            async def mint() -> list[str]:
                async with Minter(stack.redis_url, stack.secret) as m:
                    return (await m.tokens(1000)).tokens

            tokens = asyncio.run(mint())
            tf = workdir / "tokens.txt"
            tf.write_text("" if a.no_token else "".join(t + "\n" for t in tokens))
            gw = stack.start_gateway("scopegate", cache=not a.nocache, kind=a.upstream)
            run_wrk(gw.port, a.path, tf, a.conns, 3)  # warm the cache and the pools
            result: dict[str, float] = {}

            def load() -> None:
                s = run_wrk(gw.port, a.path, tf, a.conns, a.duration + 2)
                result["rps"] = s.rps

            t = threading.Thread(target=load)
            t.start()
            cpu0 = _cpu(gw.proc.pid)
            subprocess.run(
                [
                    "taskset",
                    "-c",
                    str(CLIENT_CORE),
                    spy,
                    "record",
                    "-p",
                    str(gw.proc.pid),
                    "-d",
                    str(a.duration),
                    "-r",
                    "250",
                    "--nonblocking",
                    "--function",
                    "-f",
                    "raw",
                    "-o",
                    str(a.out),
                    *(["--gil"] if a.gil else []),
                ],
                check=True,
                capture_output=True,
            )
            result["cpu"] = (_cpu(gw.proc.pid) - cpu0) / a.duration
            t.join()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"wrk during the profile: {result.get('rps', 0):.0f} req/s; scopegate on-CPU {result.get('cpu', 0):.0%} "
        f"of the profiled time (samples beyond that are runnable-but-preempted); collapsed stacks in {a.out}"
    )
    print("\n".join(summarise(a.out, a.top)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
