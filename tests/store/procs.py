"""Real Redis deployments for the durability tests, started from the redis-server binary: a replica of a primary,
and sentinels watching them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from tests.conftest import RedisServer, free_port


def command(port: int, *args: str, timeout: float = 5.0) -> bytes:
    """One command over a raw socket (RESP), the reply's first chunk."""
    parts = [f"*{len(args)}\r\n".encode()] + [f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"".join(parts))
        return s.recv(65536)


def acknowledged(primary_port: int, timeout_ms: int = 200, key: str = "sg:test:probe") -> bool:
    """A write followed by WAIT on the same connection is confirmed by a replica (a WAIT after no write proves
    nothing: it has nothing to wait for)."""
    with socket.create_connection(("127.0.0.1", primary_port), timeout=5) as s:
        s.sendall(
            f"*3\r\n$3\r\nSET\r\n${len(key)}\r\n{key}\r\n$1\r\n1\r\n".encode()
            + f"*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n${len(str(timeout_ms))}\r\n{timeout_ms}\r\n".encode()
        )
        reply = b""
        while reply.count(b"\r\n") < 2:
            reply += s.recv(1024)
        return reply.endswith(b":1\r\n")


def info_field(port: int, section: str, field: str) -> str:
    text = command(port, "INFO", section).decode(errors="replace")
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def wait_until(check: object, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Replica(RedisServer):
    """A redis-server replicating `primary_port`; `freeze`/`thaw` stop and resume it (SIGSTOP/SIGCONT): the
    primary sees a replica that no longer acknowledges anything."""

    def __init__(self, primary_port: int) -> None:
        super().__init__()
        self.primary_port = primary_port

    def start(self) -> None:
        super().start()
        # The primary starts a full sync at once instead of waiting for more replicas (5 s by default).
        command(self.primary_port, "CONFIG", "SET", "repl-diskless-sync-delay", "0")
        command(self.port, "REPLICAOF", "127.0.0.1", str(self.primary_port))
        wait_until(
            lambda: info_field(self.port, "replication", "master_link_status") == "up", what="replication link up"
        )
        wait_until(
            lambda: int(info_field(self.primary_port, "replication", "connected_slaves") or 0) >= 1,
            what="primary sees the replica",
        )
        # Acknowledging: a replica just past its full sync may not answer WAIT yet.
        wait_until(lambda: acknowledged(self.primary_port), what="replica acknowledges")

    def freeze(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def catch_up(self) -> None:
        """Thaw and wait until the replica has everything the primary has (what an operator's recovery means)."""
        self.thaw()
        wait_until(
            lambda: (
                info_field(self.port, "replication", "master_link_status") == "up"
                and info_field(self.port, "replication", "master_repl_offset")
                == info_field(self.primary_port, "replication", "master_repl_offset")
            ),
            what="replica caught up",
        )

    def kill(self) -> None:
        if self.proc is not None:
            self.thaw()
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


class Sentinels:
    """`n` redis-server processes in sentinel mode watching the primary named `name`."""

    def __init__(self, primary_port: int, n: int = 3, name: str = "sg", quorum: int = 2) -> None:
        self.ports = [free_port() for _ in range(n)]
        self.dir = tempfile.mkdtemp(prefix="sg-sentinel-")
        self.procs: list[subprocess.Popen[bytes]] = []
        self.name = name
        for i, port in enumerate(self.ports):
            conf = os.path.join(self.dir, f"s{i}.conf")
            with open(conf, "w") as f:
                f.write(
                    f"port {port}\nbind 127.0.0.1\ndir {self.dir}\n"
                    f"sentinel monitor {name} 127.0.0.1 {primary_port} {min(quorum, n)}\n"
                    f"sentinel down-after-milliseconds {name} 1000\n"
                    f"sentinel failover-timeout {name} 5000\n"
                    f"sentinel parallel-syncs {name} 1\n"
                )
            self.procs.append(
                subprocess.Popen(
                    [str(shutil.which("redis-server")), conf, "--sentinel"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in self.ports:
            wait_until(
                lambda p=port: (
                    str(primary_port).encode()  # type: ignore[misc]
                    in command(p, "SENTINEL", "get-master-addr-by-name", name)
                ),
                what="sentinel up",
            )

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p in self.ports) + f"/{self.name}/0"

    def master_port(self) -> int:
        reply = command(self.ports[0], "SENTINEL", "get-master-addr-by-name", self.name).decode()
        return int(reply.split("\r\n")[-2])

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class DelayRelay:
    """A TCP relay that forwards every byte `delay` seconds late, in order, both ways: a slow replication link."""

    def __init__(self, target_port: int, delay: float) -> None:
        import threading

        self.target_port = target_port
        self.delay = delay
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        self._closed = False
        self._threads: list[threading.Thread] = []
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()

    def _accept(self) -> None:
        import threading

        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        import queue
        import threading

        pending: queue.Queue[tuple[float, bytes]] = queue.Queue()

        def send() -> None:
            while True:
                due, chunk = pending.get()
                if not chunk:
                    return
                time.sleep(max(0.0, due - time.monotonic()))
                try:
                    dst.sendall(chunk)
                except OSError:
                    return

        threading.Thread(target=send, daemon=True).start()
        while True:
            try:
                chunk = src.recv(65536)
            except OSError:
                chunk = b""
            pending.put((time.monotonic() + self.delay, chunk))
            if not chunk:
                return

    def close(self) -> None:
        self._closed = True
        self.listener.close()
