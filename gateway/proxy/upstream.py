"""A lean keep-alive HTTP/1.1 client for the upstream leg of requests without a body (the common GET path).

Measured (bench/PROFILE.md): the generic aiohttp client costs several times what aiohttp's server does per proxied
request. This client does only what the proxy needs: one pooled plain-HTTP connection per in-flight request, a
request head written in one call, a response head parsed by hand (RFC 9112), and the body framed by Content-Length,
chunked coding or connection close, streamed with bounded buffering (the transport pauses reading past
`_HIGH_WATER`). Requests with a body and https upstreams keep using the aiohttp client (see forward.py).

Errors keep the aiohttp leg's meaning: a connect or read timeout before the response head is UpstreamTimeout (504),
anything else before it is UpstreamUnavailable (502); after the head, body failures raise ConnectionError so the
caller cuts the client connection. A reused keep-alive connection that the upstream closed before answering is
retried once on a fresh connection, for idempotent methods only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from multidict import CIMultiDict, CIMultiDictProxy

from gateway.errors import UpstreamTimeout, UpstreamUnavailable

_HIGH_WATER = 256 * 1024  # pause reading from the upstream past this many buffered bytes
_MAX_HEAD = 64 * 1024  # status line + headers
_MAX_IDLE = 256  # idle connections kept
_IDLE_TIMEOUT = 30.0  # seconds an idle connection is trusted (aiohttp's keepalive_timeout in new_session)
_NO_BODY_STATUS = frozenset({204, 304})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


class UpstreamBodyError(ConnectionError):
    """The upstream response body ended early or was malformed (after the head was relayed)."""


class _Conn(asyncio.Protocol):
    __slots__ = ("_paused", "_waiter", "buf", "eof", "idle_since", "lost", "transport")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.eof = False
        self.lost = False
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self.idle_since = 0.0

    # --- protocol callbacks ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.eof = True
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    # --- reading ----------------------------------------------------------------------------------------------

    async def wait_data(self, idle: float) -> None:
        """Wait until more bytes arrive or the stream ends; TimeoutError after `idle` seconds of silence."""
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        handle = loop.call_later(idle, _expire, waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            self._waiter = None

    def take(self, n: int | None = None) -> bytes:
        if n is None or n >= len(self.buf):
            data = bytes(self.buf)
            self.buf.clear()
        else:
            data = bytes(self.buf[:n])
            del self.buf[:n]
        if self._paused and len(self.buf) < _HIGH_WATER // 2 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.lost = True


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class UpstreamResponse:
    """Status, headers and a body iterator; the connection goes back to the pool once the body is fully read."""

    __slots__ = (
        "_conn",
        "_done",
        "_left",
        "_mode",
        "_pool",
        "_read_timeout",
        "_reusable",
        "content_length",
        "headers",
        "reason",
        "status",
    )

    def __init__(self, pool: UpstreamPool, conn: _Conn, status: int, reason: str, headers: CIMultiDictProxy[str],
                 mode: str, length: int | None, reusable: bool, read_timeout: float) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.content_length = length  # the upstream's Content-Length (also on HEAD, 204, 304), as aiohttp gave it
        self._pool = pool
        self._conn = conn
        self._mode = mode  # "none" | "length" | "chunked" | "close"
        self._left = (length or 0) if mode == "length" else 0
        self._reusable = reusable
        self._read_timeout = read_timeout
        self._done = False
        if mode == "none" or (mode == "length" and self._left == 0):
            self._finish()

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        conn = self._conn
        if self._reusable and self._mode in ("none", "length", "chunked") and not conn.buf and not conn.eof:
            self._pool.release(conn)
        else:
            conn.close()

    def abort(self) -> None:
        """Give up on the rest of the body: the connection cannot be reused."""
        if not self._done:
            self._done = True
            self._conn.close()

    async def _more(self) -> None:
        conn = self._conn
        if conn.eof:
            raise UpstreamBodyError("the upstream closed the connection mid-body")
        await conn.wait_data(self._read_timeout)

    async def iter_chunks(self, size: int) -> AsyncIterator[bytes]:
        try:
            if self._mode == "length":
                async for chunk in self._iter_length(size):
                    yield chunk
            elif self._mode == "chunked":
                async for chunk in self._iter_chunked(size):
                    yield chunk
            elif self._mode == "close":
                async for chunk in self._iter_close():
                    yield chunk
        except BaseException:
            self.abort()
            raise
        self._finish()

    async def _iter_length(self, size: int) -> AsyncIterator[bytes]:
        conn = self._conn
        while self._left > 0:
            if not conn.buf:
                await self._more()
                continue
            data = conn.take(min(self._left, size))
            self._left -= len(data)
            yield data

    async def _iter_close(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            if conn.buf:
                yield conn.take()
            elif conn.eof:
                return
            else:
                await conn.wait_data(self._read_timeout)

    async def _line(self) -> bytes:
        conn = self._conn
        while True:
            i = conn.buf.find(b"\r\n")
            if i >= 0:
                line = conn.take(i + 2)
                return line[:-2]
            if len(conn.buf) > 8192:
                raise UpstreamBodyError("malformed chunked body from the upstream")
            await self._more()

    async def _iter_chunked(self, size: int) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            line = await self._line()
            size_text = line.split(b";", 1)[0].strip()
            try:
                left = int(size_text, 16)
            except ValueError as exc:
                raise UpstreamBodyError("malformed chunk size from the upstream") from exc
            if not size_text or left < 0 or not all(c in b"0123456789abcdefABCDEF" for c in size_text):
                raise UpstreamBodyError("malformed chunk size from the upstream")
            if left == 0:
                while await self._line():  # trailers: read and dropped, as the aiohttp leg did
                    pass
                return
            while left > 0:
                if not conn.buf:
                    await self._more()
                    continue
                data = conn.take(min(left, size))
                left -= len(data)
                yield data
            if await self._line() != b"":
                raise UpstreamBodyError("malformed chunk terminator from the upstream")


class UpstreamPool:
    """Idle keep-alive connections to one plain-HTTP upstream."""

    def __init__(self, base_url: str, connect_timeout: float, read_timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("the lean upstream client speaks plain http only")
        self.host = parts.hostname
        self.port = parts.port or 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if self.port == 80 else f"{host}:{self.port}"
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: list[_Conn] = []
        self._closed = False

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
            if conn.lost or conn.eof or conn.buf or now - conn.idle_since > _IDLE_TIMEOUT:
                conn.close()
                continue
            return conn
        return None

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(loop.create_connection(_Conn, self.host, self.port),
                                             self.connect_timeout)
        except TimeoutError as exc:
            raise UpstreamTimeout("the upstream did not answer in time", reason="upstream_timeout") from exc
        except OSError as exc:
            raise UpstreamUnavailable("the upstream is unreachable", reason="upstream_unreachable") from exc
        return conn

    def _head(self, method: str, target: str, headers: CIMultiDict[str]) -> bytes:
        lines = [f"{method} {target} HTTP/1.1\r\nHost: {self.host_header}\r\n"]
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
                raise ValueError("newline or colon in a header to the upstream")
            lines.append(f"{name}: {value}\r\n")
        lines.append("\r\n")
        # aiohttp decodes inbound header bytes as UTF-8 with surrogateescape: this restores the exact bytes.
        return "".join(lines).encode("utf-8", "surrogateescape")

    async def request(self, method: str, target: str, headers: CIMultiDict[str]) -> UpstreamResponse:
        """Send a bodyless request and read the response head (skipping 1xx interim responses)."""
        head = self._head(method, target, headers)
        conn = self._pooled()
        reused = conn is not None
        for attempt in range(2):
            if conn is None:
                conn = await self._connect()
            try:
                assert conn.transport is not None
                conn.transport.write(head)
                return await self._response(conn, method)
            except _StaleConnection as exc:
                conn.close()
                if reused and attempt == 0 and method in _IDEMPOTENT:
                    # The upstream closed an idle connection: one fresh try. Only for idempotent methods (RFC 9110
                    # §9.2.2): a bodyless POST may have been acted on before the connection dropped.
                    conn, reused = None, False
                    continue
                raise UpstreamUnavailable("the upstream closed the connection",
                                          reason="upstream_unreachable") from exc
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")

    async def _response(self, conn: _Conn, method: str) -> UpstreamResponse:
        got_any = False
        while True:
            end = conn.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(conn.buf) > _MAX_HEAD:
                    raise UpstreamUnavailable("the upstream response head is too large", reason="upstream_protocol")
                if conn.eof:
                    if not got_any and not conn.buf:
                        raise _StaleConnection()
                    raise UpstreamUnavailable("the upstream closed the connection", reason="upstream_unreachable")
                try:
                    await conn.wait_data(self.read_timeout)
                except TimeoutError as exc:
                    raise UpstreamTimeout("the upstream did not answer in time", reason="upstream_timeout") from exc
                got_any = got_any or bool(conn.buf)
                continue
            raw = conn.take(end + 4)
            status, reason, version, headers = _parse_head(raw)
            if 100 <= status < 200 and status != 101:
                got_any = True
                continue  # interim response (100 Continue, 103 Early Hints): the final one follows
            return self._framed(conn, method, status, reason, version, headers)

    def _framed(self, conn: _Conn, method: str, status: int, reason: str, version: str,
                headers: CIMultiDict[str]) -> UpstreamResponse:
        tokens = {t.strip().lower() for v in headers.getall("Connection", ()) for t in v.split(",")}
        reusable = version == "HTTP/1.1" and "close" not in tokens
        declared: int | None = None
        if "Content-Length" in headers:
            if "Transfer-Encoding" in headers:  # RFC 9112 §6.1: a smuggling vector; never relay it
                raise UpstreamUnavailable("Content-Length with Transfer-Encoding from the upstream",
                                          reason="upstream_protocol")
            values = {v.strip() for v in headers.getall("Content-Length") for v in v.split(",")}
            if len(values) != 1 or not next(iter(values)).isdigit():
                raise UpstreamUnavailable("invalid Content-Length from the upstream", reason="upstream_protocol")
            declared = int(next(iter(values)))
        if method == "HEAD" or status in _NO_BODY_STATUS or status == 101:
            mode = "none"
            reusable = reusable and status != 101
        elif "Transfer-Encoding" in headers:
            codings = [c.strip().lower() for v in headers.getall("Transfer-Encoding") for c in v.split(",")]
            mode = "chunked" if codings and codings[-1] == "chunked" else "close"
        elif declared is not None:
            mode = "length"
        else:
            mode = "close"
        return UpstreamResponse(self, conn, status, reason, CIMultiDictProxy(headers), mode, declared, reusable,
                                self.read_timeout)


class _StaleConnection(Exception):
    """The connection ended before any byte of a response."""


def _parse_head(raw: bytes) -> tuple[int, str, str, CIMultiDict[str]]:
    try:
        # UTF-8 round-trips exactly through aiohttp's response writer; other bytes could not be relayed unchanged.
        text = raw[:-4].decode("utf-8")
        status_line, *lines = text.split("\r\n")
        version, _, rest = status_line.partition(" ")
        code_text, _, reason = rest.partition(" ")
        if version not in ("HTTP/1.1", "HTTP/1.0") or len(code_text) != 3 or not code_text.isdigit():
            raise ValueError(status_line)
        headers: CIMultiDict[str] = CIMultiDict()
        for line in lines:
            name, sep, value = line.partition(":")
            if "\n" in line or "\r" in line or "\x00" in line:
                raise ValueError(line)  # a bare LF or NUL: ambiguous to whoever reads it next (response splitting)
            if not sep or not name or name != name.strip() or line[0] in " \t":
                raise ValueError(line)  # no obs-fold, no whitespace before the colon (RFC 9112 §5)
            headers.add(name, value.strip(" \t"))
    except ValueError as exc:
        raise UpstreamUnavailable("malformed response from the upstream", reason="upstream_protocol") from exc
    return int(code_text), reason, version, headers
