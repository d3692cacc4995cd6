"""The one upstream HTTP/1.1 client of the proxy: every request, with or without a body, http or https.

Parsing is gateway/proxy/h1.py (llhttp, strict); this module owns connections and their reuse. The rules that keep
one client's response from reaching another (issue: the trust boundary):
- a connection goes back to the pool only after a complete, correctly framed response, with the whole request body
  sent and nothing left over; it is closed the moment any byte arrives while it is idle, and checked again at
  checkout;
- any framing anomaly is a 502 (before the head is relayed) or a cut (after), and that connection is closed;
- a request body is relayed byte for byte with the framing the client used (Content-Length or chunked); when it
  cannot be sent whole (client gone, size limit hit), the connection is closed, never reused.

Errors keep their meaning for the caller: a connect or read timeout before the response head is UpstreamTimeout
(504), anything else before it UpstreamUnavailable (502); body failures after the head raise UpstreamBodyError so
the caller cuts the client connection. A pooled connection that the upstream closed before answering is retried
once on a fresh connection, for bodyless idempotent requests only (RFC 9110 §9.2.2).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlsplit

from multidict import CIMultiDictProxy

from gateway.errors import UpstreamTimeout, UpstreamUnavailable
from gateway.proxy.h1 import FramingError, ResponseReader

_HIGH_WATER = 256 * 1024  # pause reading from the upstream past this many buffered body bytes
_MAX_IDLE = 256  # idle connections kept
_IDLE_TIMEOUT = 15.0  # seconds an idle connection is trusted (below common upstream keep-alive timeouts)
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_FRAMING = ("Content-Length", "Transfer-Encoding", "Host")
_FRAMING_LOWER = ("content-length", "transfer-encoding", "host")


class UpstreamBodyError(ConnectionError):
    """The upstream response body ended early or was malformed (after the head was relayed)."""


class _Conn(asyncio.Protocol):
    __slots__ = (
        "_drain",
        "_loop",
        "_read_paused",
        "_spare",
        "_waiter",
        "_write_paused",
        "body_sent",
        "eof",
        "error",
        "idle_since",
        "lost",
        "reader",
        "transport",
    )

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reader: ResponseReader | None = None  # None while idle: then any byte is an anomaly
        self.error: BaseException | None = None  # a framing error, or why the request body could not be sent
        self.eof = False
        self.lost = False
        self.body_sent = True
        self.idle_since = 0.0
        self._spare: ResponseReader | None = None  # the previous request's reader, reset for the next one
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._read_paused = False
        self._write_paused = False
        # The transport's loop, kept: on Python 3.11 every asyncio.get_running_loop() is a getpid() system call.
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    # --- protocol callbacks ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        if reader is None or self.error is not None:
            self.close()  # bytes nobody asked for: this connection can no longer be trusted to frame anything
            return
        try:
            reader.feed(data)
        except FramingError as exc:
            self.fail(exc)
            return
        if reader.buffered > _HIGH_WATER and not self._read_paused and self.transport is not None:
            self._read_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        reader = self.reader
        if reader is not None and reader.started and self.error is None:
            try:
                reader.feed_eof()
            except FramingError as exc:
                self.error = exc
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.eof = True
        self._wake()
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    # --- used by the client -----------------------------------------------------------------------------------

    def start(self, method: str) -> ResponseReader:
        """A reader for the response to the request about to be written."""
        spare = self._spare
        reader = spare.reset(method) if spare is not None else ResponseReader(method)
        self._spare = self.reader = reader
        return reader

    def fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self.close()
        self._wake()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.lost = True

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    async def drain(self) -> None:
        if self._write_paused and not self.lost:
            self._drain = self.loop.create_future()
            try:
                await self._drain
            finally:
                self._drain = None
        if self.lost:
            raise ConnectionResetError("the upstream connection closed")

    async def wait_data(self, idle: float) -> None:
        """Wait until something happens (bytes, end, failure); TimeoutError after `idle` seconds of silence."""
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()
        loop = self.loop
        self._waiter = waiter = loop.create_future()
        handle = loop.call_later(idle, _expire, waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            self._waiter = None

    def resume_if_drained(self) -> None:
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class UpstreamResponse:
    """Status, headers and the body; the connection goes back to the pool only once it is known clean."""

    __slots__ = (
        "_conn",
        "_done",
        "_pool",
        "_read_timeout",
        "_reader",
        "_sender",
        "content_length",
        "head",
        "reason",
        "status",
    )

    def __init__(
        self,
        pool: UpstreamPool,
        conn: _Conn,
        reader: ResponseReader,
        sender: asyncio.Task[None] | None,
        read_timeout: float,
    ) -> None:
        head = reader.head
        assert head is not None
        self.status = head.status
        self.reason = head.reason
        self.head = head  # its fields as received; `headers` is a multidict view built on demand
        self.content_length = head.content_length  # as declared (also on HEAD, 204, 304)
        self._pool = pool
        self._conn = conn
        self._reader = reader
        self._sender = sender
        self._read_timeout = read_timeout
        self._done = False

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        return self.head.headers

    def whole_body(self) -> bytes | None:
        """The body, if all of it has already arrived (the common small response): relayed in one write.
        An anomaly seen by then (e.g. a stray second response right behind this one) is a 502."""
        error = self._conn.error
        if isinstance(error, FramingError):
            self.abort()
            raise UpstreamUnavailable(f"malformed response from the upstream: {error}", reason="upstream_protocol")
        if not self._reader.complete or error is not None:
            return None
        body = self._reader.take_body()
        self._finish()
        return body

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        conn, sender = self._conn, self._sender
        clean = self._reader.reusable and conn.error is None and not conn.eof and conn.body_sent
        if sender is not None and not sender.done():
            sender.cancel()  # the upstream answered before taking the whole body: the rest cannot follow
            clean = False
        conn.reader = None
        if clean:
            self._pool.release(conn)
        else:
            conn.close()

    def abort(self) -> None:
        """Give up on the rest of the body: the connection cannot be reused."""
        if not self._done:
            self._done = True
            if self._sender is not None and not self._sender.done():
                self._sender.cancel()
            self._conn.reader = None
            self._conn.close()

    async def iter_chunks(self, size: int = 0) -> AsyncIterator[bytes]:
        """The body as it arrives, in pieces of at most `size` bytes (0: as received, up to about _HIGH_WATER)."""
        conn, reader = self._conn, self._reader
        try:
            while True:
                if conn.error is not None:
                    raise UpstreamBodyError(f"the upstream body is malformed: {conn.error}")
                data = reader.take_body()
                if data:
                    conn.resume_if_drained()
                    if 0 < size < len(data):
                        for i in range(0, len(data), size):
                            yield data[i : i + size]
                    else:
                        yield data
                    continue
                if reader.complete:
                    break
                if conn.eof:
                    raise UpstreamBodyError("the upstream closed the connection mid-body")
                await conn.wait_data(self._read_timeout)
        except BaseException:
            self.abort()
            raise
        self._finish()


class UpstreamPool:
    """Keep-alive connections to one upstream (http or https) and the requests sent over them."""

    def __init__(self, base_url: str, connect_timeout: float, read_timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the upstream must be an http or https URL")
        self.host = parts.hostname
        default_port = 443 if parts.scheme == "https" else 80
        self.port = parts.port or default_port
        self._ssl: ssl.SSLContext | None = ssl.create_default_context() if parts.scheme == "https" else None
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if self.port == default_port else f"{host}:{self.port}"
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: list[_Conn] = []
        self._closed = False
        self._heads: list[tuple[_Conn, bytes]] = []  # request heads written at the end of this loop iteration

    def _send_head(self, conn: _Conn, head: bytes) -> None:
        """Queue a request head; the heads of every request that got this far in one loop iteration go out
        back to back in one callback (see _flush_heads)."""
        if not self._heads:
            conn.loop.call_soon(self._flush_heads)
        self._heads.append((conn, head))

    def _flush_heads(self) -> None:
        """Write the queued heads in a burst. Written one by one as each handler got there, every write woke the
        upstream, which (sharing a core, or just quick to answer) answered that one request before the next was
        written: one upstream wake-up, event-loop pass and context switch per request. In a burst, an upstream
        with an event loop reads several requests per wake-up. A connection closed meanwhile (its request was
        cancelled) is skipped."""
        heads, self._heads = self._heads, []
        for conn, head in heads:
            transport = conn.transport
            if transport is not None and not conn.lost and not transport.is_closing():
                transport.write(head)

    def release(self, conn: _Conn) -> None:
        if self._closed or conn.lost or len(self._idle) >= _MAX_IDLE:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _pooled(self) -> _Conn | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            transport = conn.transport
            if (
                conn.lost
                or conn.eof
                or conn.error is not None
                or transport is None
                or transport.is_closing()
                or now - conn.idle_since > _IDLE_TIMEOUT
            ):
                conn.close()
                continue
            return conn
        return None

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    _Conn,
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl is not None else None,
                ),
                self.connect_timeout,
            )
        except TimeoutError as exc:
            raise UpstreamTimeout("the upstream did not answer in time", reason="upstream_timeout") from exc
        except OSError as exc:  # ssl.SSLError is an OSError
            raise UpstreamUnavailable("the upstream is unreachable", reason="upstream_unreachable") from exc
        return conn

    def _head(self, method: str, target: str, headers: Sequence[tuple[str, str]], framing: str) -> bytes:
        lines = [f"{method} {target} HTTP/1.1\r\nHost: {self.host_header}\r\n"]
        for name, value in headers:
            if name in _FRAMING or name.lower() in _FRAMING_LOWER:
                continue  # framing is this client's alone
            lines.append(f"{name}: {value}\r\n")
        lines.append(framing)
        lines.append("\r\n")
        text = "".join(lines)
        # One CR and one LF per line and no NUL or stray colon-less line: no header can smuggle a line of its own.
        if (
            text.count("\n") != len(lines) + framing.count("\n")
            or text.count("\r") != text.count("\n")
            or "\x00" in text
        ):
            raise ValueError("newline or NUL in a header to the upstream")
        # aiohttp decodes inbound header bytes as UTF-8 with surrogateescape: this restores the exact bytes.
        return text.encode("utf-8", "surrogateescape")

    async def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: AsyncIterator[bytes] | None = None,
        length: int | None = None,
    ) -> UpstreamResponse:
        """Send one request and read its response head (1xx interim responses are skipped).

        `body`: the request body, relayed as it comes; `length`: its exact size (Content-Length framing), or None
        for chunked framing. Without a body, methods that may carry one are sent `Content-Length: 0`.
        """
        if body is None:
            framing = "" if method in _BODYLESS_METHODS else "Content-Length: 0\r\n"
        elif length is not None:
            framing = f"Content-Length: {length}\r\n"
        else:
            framing = "Transfer-Encoding: chunked\r\n"
        head = self._head(method, target, headers, framing)
        conn = self._pooled()
        reused = conn is not None
        for attempt in range(2):
            if conn is None:
                conn = await self._connect()
            reader = conn.start(method)
            conn.body_sent = body is None
            sender: asyncio.Task[None] | None = None
            try:
                if body is None:
                    self._send_head(conn, head)
                else:
                    conn.write(head)  # the body follows at once, after the head
                    sender = asyncio.ensure_future(_send_body(conn, body, length))
                    sender.add_done_callback(_retrieve)
                await self._await_head(conn, reader, sender)
                return UpstreamResponse(self, conn, reader, sender, self.read_timeout)
            except _StaleConnection as exc:
                conn.close()
                if reused and attempt == 0 and body is None and method in _IDEMPOTENT:
                    # The upstream closed an idle connection: one fresh try. Only for idempotent methods without
                    # a body: a POST may have been acted on before the connection dropped.
                    conn, reused = None, False
                    continue
                raise UpstreamUnavailable("the upstream closed the connection", reason="upstream_unreachable") from exc
            except BaseException:
                if sender is not None and not sender.done():
                    sender.cancel()
                conn.reader = None
                conn.close()
                raise
        raise AssertionError("unreachable")

    async def _await_head(self, conn: _Conn, reader: ResponseReader, sender: asyncio.Task[None] | None) -> None:
        while reader.head is None:
            if sender is not None and sender.done() and not sender.cancelled():
                exc = sender.exception()
                if exc is not None:
                    raise exc  # the body could not be read from the client (gone, too large): not the upstream's
            error = conn.error
            if error is not None:
                if isinstance(error, FramingError):
                    raise UpstreamUnavailable(
                        f"malformed response from the upstream: {error}", reason="upstream_protocol"
                    )
                raise UpstreamUnavailable("the upstream connection failed", reason="upstream_unreachable")
            if conn.eof:
                if not reader.started:
                    raise _StaleConnection()
                raise UpstreamUnavailable("the upstream closed the connection", reason="upstream_unreachable")
            try:
                await conn.wait_data(self.read_timeout)
            except TimeoutError as exc:
                raise UpstreamTimeout("the upstream did not answer in time", reason="upstream_timeout") from exc


async def _send_body(conn: _Conn, body: AsyncIterator[bytes], length: int | None) -> None:
    """Relay the request body with the framing the head announced; on any failure the connection is closed."""
    sent = 0
    try:
        async for chunk in body:
            if not chunk:
                continue
            sent += len(chunk)
            if length is not None:
                if sent > length:
                    raise ConnectionError("the request body is longer than its Content-Length")
                conn.write(chunk)
            else:
                conn.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            await conn.drain()
        if length is not None and sent != length:
            raise ConnectionError("the request body ended before its Content-Length")
        if length is None:
            conn.write(b"0\r\n\r\n")
        conn.body_sent = True
    except asyncio.CancelledError:
        conn.close()
        raise
    except BaseException as exc:
        conn.fail(exc)
        raise


def _retrieve(task: asyncio.Task[None]) -> None:
    """The body sender's failure is acted on through the connection; mark it seen so asyncio does not log it."""
    if not task.cancelled():
        task.exception()


class _StaleConnection(Exception):
    """The connection ended before any byte of a response."""
