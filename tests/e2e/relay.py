"""A loopback TCP relay in front of Redis that can silently stop forwarding without closing anything.

It runs its own asyncio loop in a thread, so synchronous tests (real `scopegate serve` processes) can drive it.
`stall(pubsub_only=True)` freezes only connections that have sent SUBSCRIBE (the revocation subscription, including
ones opened later); `stall()` freezes every connection. Bytes read while stalled are held, not dropped, and flow
again on `resume()`, as a stalled network path that recovers would deliver them.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from tests.conftest import free_port


@dataclass
class _Conn:
    pubsub: bool = False
    writers: list[asyncio.StreamWriter] = field(default_factory=list)


class StallingRelay:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.stall_all = False
        self.stall_pubsub = False
        self.conns: list[_Conn] = []
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, name="stalling-relay", daemon=True)
        self._thread.start()
        if not self._started.wait(5):
            raise RuntimeError("relay did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", self.port))
        self._started.set()
        self._loop.run_forever()
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        if self._server is not None:
            self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    def _frozen(self, conn: _Conn) -> bool:
        return self.stall_all or (self.stall_pubsub and conn.pubsub)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        conn = _Conn(writers=[writer, up_writer])
        self.conns.append(conn)
        await asyncio.gather(
            self._pump(conn, reader, up_writer, client_side=True),
            self._pump(conn, up_reader, writer, client_side=False),
            return_exceptions=True,
        )
        for w in conn.writers:
            w.close()
        self.conns.remove(conn)

    async def _pump(
        self, conn: _Conn, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, client_side: bool
    ) -> None:
        try:
            while True:
                data = await src.read(65536)
                if not data:
                    break
                if client_side and b"SUBSCRIBE" in data.upper():
                    conn.pubsub = True
                while self._frozen(conn):  # hold the bytes: nothing forwarded, nothing closed
                    await asyncio.sleep(0.005)
                dst.write(data)
                await dst.drain()
        finally:
            for w in conn.writers:
                w.close()

    def stall(self, *, pubsub_only: bool = False) -> None:
        if pubsub_only:
            self.stall_pubsub = True
        else:
            self.stall_all = True

    def resume(self) -> None:
        self.stall_all = self.stall_pubsub = False

    def close(self) -> None:
        def stop() -> None:
            if self._server is not None:
                self._server.close()
            for conn in list(self.conns):
                for w in conn.writers:
                    w.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(stop)
        self._thread.join(5)
