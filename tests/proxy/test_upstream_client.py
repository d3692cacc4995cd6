"""The lean upstream client (gateway/proxy/upstream.py) against a scripted raw HTTP/1.1 upstream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from gateway.errors import UpstreamTimeout, UpstreamUnavailable
from gateway.proxy.upstream import UpstreamBodyError, UpstreamPool


class RawUpstream:
    """Accepts connections; each request head is answered by `respond(head) -> bytes | None` (None: close)."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self.connections = 0
        self.respond: Callable[[bytes], bytes | None] = lambda head: ok(b"hi")
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.close_after = False

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                answer = self.respond(head)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


@pytest.fixture
async def upstream() -> AsyncIterator[RawUpstream]:
    up = RawUpstream()
    up.server = await asyncio.start_server(up.handle, "127.0.0.1", 0)
    up.port = up.server.sockets[0].getsockname()[1]
    yield up
    up.server.close()
    await up.server.wait_closed()


def pool_for(up: RawUpstream, read_timeout: float = 2.0) -> UpstreamPool:
    return UpstreamPool(f"http://127.0.0.1:{up.port}", 1.0, read_timeout)


async def body_of(pool: UpstreamPool, method: str = "GET", target: str = "/x") -> tuple[int, bytes, object]:
    resp = await pool.request(method, target, [("X-A", "1")])
    chunks = [c async for c in resp.iter_chunks(65536)]
    return resp.status, b"".join(chunks), resp


async def test_keep_alive_reuses_one_connection_and_sends_host(upstream: RawUpstream) -> None:
    pool = pool_for(upstream)
    for _ in range(3):
        status, body, _ = await body_of(pool)
        assert (status, body) == (200, b"hi")
    assert upstream.connections == 1
    assert upstream.heads[0].startswith(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-A: 1\r\n" % upstream.port)
    pool.close()


async def test_chunked_with_trailers_and_extensions(upstream: RawUpstream) -> None:
    upstream.respond = lambda head: (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    pool = pool_for(upstream)
    status, body, resp = await body_of(pool)
    assert (status, body, resp.content_length) == (200, b"abcde", None)  # type: ignore[attr-defined]
    status, body, _ = await body_of(pool)
    assert body == b"abcde"
    assert upstream.connections == 1  # reusable after a complete chunked body
    pool.close()


async def test_close_delimited_body_and_connection_close(upstream: RawUpstream) -> None:
    upstream.respond = lambda head: b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"
    upstream.close_after = True
    pool = pool_for(upstream)
    status, body, resp = await asyncio.wait_for(body_of(pool), 5)
    assert (status, body, resp.content_length) == (200, b"until the end", None)  # type: ignore[attr-defined]
    status, body, _ = await asyncio.wait_for(body_of(pool), 5)
    assert upstream.connections == 2  # never reused
    pool.close()


async def test_interim_1xx_responses_are_skipped(upstream: RawUpstream) -> None:
    upstream.respond = lambda head: b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok(b"final")
    pool = pool_for(upstream)
    status, body, _ = await body_of(pool)
    assert (status, body) == (200, b"final")
    pool.close()


async def test_head_and_304_have_no_body_but_keep_content_length(upstream: RawUpstream) -> None:
    upstream.respond = lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
    pool = pool_for(upstream)
    status, body, resp = await body_of(pool, "HEAD")
    assert (status, body, resp.content_length) == (200, b"", 1234)  # type: ignore[attr-defined]
    upstream.respond = lambda head: b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n"
    status, body, _ = await body_of(pool)
    assert (status, body) == (304, b"")
    assert upstream.connections == 1
    pool.close()


async def test_stale_keep_alive_connection_is_retried_once(upstream: RawUpstream) -> None:
    pool = pool_for(upstream)
    await body_of(pool)
    served = 0

    def close_first(head: bytes) -> bytes | None:
        nonlocal served
        served += 1
        return None if served == 1 else ok(b"fresh")  # the idle connection dies on its next request

    upstream.respond = close_first
    status, body, _ = await body_of(pool)
    assert (status, body) == (200, b"fresh")
    assert upstream.connections == 2
    pool.close()


async def test_a_non_idempotent_request_is_never_sent_twice(upstream: RawUpstream) -> None:
    pool = pool_for(upstream)
    await body_of(pool)  # leaves one idle keep-alive connection
    upstream.respond = lambda head: None if head.startswith(b"POST") else ok(b"fresh")
    with pytest.raises(UpstreamUnavailable):
        await pool.request("POST", "/v1/send_message", [("Content-Length", "0")])
    assert [h.split(b" ", 1)[0] for h in upstream.heads].count(b"POST") == 1
    pool.close()


async def test_ambiguous_framing_and_garbage_are_502(upstream: RawUpstream) -> None:
    pool = pool_for(upstream)
    upstream.respond = lambda head: (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    with pytest.raises(UpstreamUnavailable):
        await pool.request("GET", "/x", [])
    upstream.respond = lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
    with pytest.raises(UpstreamUnavailable):
        await pool.request("GET", "/x", [])
    upstream.respond = lambda head: b"NONSENSE\r\n\r\n"
    with pytest.raises(UpstreamUnavailable):
        await pool.request("GET", "/x", [])
    upstream.respond = lambda head: b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n"
    with pytest.raises(UpstreamUnavailable):
        await pool.request("GET", "/x", [])
    pool.close()


async def test_body_cut_short_raises_connection_error(upstream: RawUpstream) -> None:
    first = True

    def short(head: bytes) -> bytes | None:
        nonlocal first
        if first:
            first = False
            return b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
        return None

    upstream.respond = short
    pool = pool_for(upstream, read_timeout=0.3)
    resp = await pool.request("GET", "/x", [])
    with pytest.raises((UpstreamBodyError, TimeoutError)):
        async for _ in resp.iter_chunks(65536):
            pass
    pool.close()


async def test_timeouts_and_refused(upstream: RawUpstream) -> None:
    upstream.respond = lambda head: b""  # never answers
    pool = pool_for(upstream, read_timeout=0.2)
    with pytest.raises(UpstreamTimeout):
        await pool.request("GET", "/x", [])
    upstream.server.close()  # type: ignore[union-attr]
    await upstream.server.wait_closed()  # type: ignore[union-attr]
    refused = UpstreamPool(f"http://127.0.0.1:{upstream.port}", 1.0, 1.0)
    with pytest.raises(UpstreamUnavailable):
        await refused.request("GET", "/x", [])
    pool.close()


async def test_large_body_streams_in_bounded_chunks(upstream: RawUpstream) -> None:
    big = bytes(5 * 1024 * 1024)
    upstream.respond = lambda head: ok(big)
    pool = pool_for(upstream)
    resp = await pool.request("GET", "/x", [])
    total = 0
    async for chunk in resp.iter_chunks(65536):
        assert len(chunk) <= 65536
        total += len(chunk)
    assert total == len(big)
    pool.close()


async def test_header_injection_is_refused(upstream: RawUpstream) -> None:
    pool = pool_for(upstream)
    with pytest.raises(ValueError):
        await pool.request("GET", "/x", [("X-A", "1\r\nX-Evil: 1")])
    pool.close()


async def test_utf8_response_headers_round_trip_and_bare_lf_is_502(upstream: RawUpstream) -> None:
    pool = pool_for(upstream)
    upstream.respond = lambda head: ok(b"x", "X-Name: caf\u00e9\r\n".encode())
    resp = await pool.request("GET", "/x", [])
    assert resp.headers["X-Name"] == "caf\u00e9"
    resp.abort()
    upstream.respond = lambda head: ok(b"x", b"X-Bad: a\nSet-Cookie: evil=1\r\n")
    with pytest.raises(UpstreamUnavailable):
        await pool.request("GET", "/x", [])
    pool.close()
