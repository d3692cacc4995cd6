"""Processes the benchmark starts: pinned with taskset, tracked, and always stopped (also on Ctrl-C)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

LOOPBACK = "127.0.0.1"
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before port {port} opened")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open within {timeout}s")


def ensure_tools() -> None:
    """nginx (Debian nginx-light) and wrk from Debian packages, installed when missing."""
    missing = [
        pkg
        for tool, pkg in (
            ("nginx", "nginx-light"),
            ("wrk", "wrk"),
            ("redis-server", "redis-server"),
            ("taskset", "util-linux"),
        )
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()
    ]
    if not missing:
        return
    print(f"installing {' '.join(missing)} with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env)


def which(tool: str) -> str:
    found = shutil.which(tool) or (f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists() else None)
    if found is None:
        raise RuntimeError(f"{tool} not found")
    return found


class Procs:
    """Every child the benchmark starts, stopped in reverse order on exit, whatever happens."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        core: int | None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        cmd = (["taskset", "-c", str(core)] if core is not None else []) + argv
        log = (self.workdir / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=cwd,
        )
        log.close()
        self._children.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what we started
                proc.wait(timeout=5)
        self._children = [(n, p) for n, p in self._children if p is not proc]

    def stop_all(self) -> None:
        for _, proc in reversed(list(self._children)):
            with contextlib.suppress(Exception):
                self.stop(proc)

    def cpu_seconds(self) -> float:
        """utime + stime of every process started here and their children (nginx workers), in seconds."""
        total = 0
        seen: set[int] = set()
        todo = [p.pid for _, p in self._children if p.poll() is None]
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except (OSError, ValueError, IndexError):
                continue
        return total / _CLK_TCK

    def __enter__(self) -> Procs:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop_all()


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB from /proc/PID/status."""
    rss = hwm = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
    return rss, hwm
