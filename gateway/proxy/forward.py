"""Stream a decided request to the upstream and its response back, with bounded memory both ways.

One pooled ClientSession per process; `auto_decompress=False` so compressed bodies pass through untouched; the
canonical target is forwarded with `encoded=True` so the client never re-normalizes it. Errors before the response
starts map to 502/504; after it starts the client connection is cut, since a status can no longer change.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from gateway.errors import PayloadTooLarge, UpstreamTimeout, UpstreamUnavailable
from gateway.proxy.mutate import response_headers
from gateway.proxy.upstream import UpstreamPool

log = logging.getLogger("scopegate.proxy")

CHUNK = 64 * 1024


def new_session(connect_timeout: float, read_timeout: float) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=read_timeout),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )


async def _limited(request: web.Request, limit: int) -> AsyncIterator[bytes]:
    sent = 0
    async for chunk in request.content.iter_chunked(CHUNK):
        sent += len(chunk)
        if sent > limit:
            raise PayloadTooLarge(f"the request body exceeds {limit} bytes", reason="body_too_large")
        yield chunk


async def forward(
    request: web.Request,
    session: aiohttp.ClientSession,
    upstream_base: str,
    target: str,
    headers: CIMultiDict[str],
    body_limit: int,
    pool: UpstreamPool | None = None,
) -> web.StreamResponse:
    if pool is not None and not request.body_exists:
        return await _forward_lean(request, pool, target, headers)
    declared = request.content_length
    if declared is not None and declared > body_limit:
        raise PayloadTooLarge(f"the request body exceeds {body_limit} bytes", reason="body_too_large")
    has_body = request.body_exists
    data = _limited(request, body_limit) if has_body else None
    url = URL(upstream_base + target, encoded=True)
    try:
        upstream = await session.request(
            request.method, url, headers=headers, data=data, allow_redirects=False, compress=None,
            chunked=None if declared is not None or not has_body else True,
        )
    except PayloadTooLarge:
        raise
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise UpstreamTimeout("the upstream did not answer in time", reason="upstream_timeout") from exc
    except aiohttp.ClientError as exc:
        if isinstance(exc.__cause__, PayloadTooLarge) or isinstance(exc.__context__, PayloadTooLarge):
            raise PayloadTooLarge(f"the request body exceeds {body_limit} bytes", reason="body_too_large") from exc
        raise UpstreamUnavailable("the upstream is unreachable", reason="upstream_unreachable") from exc

    async with upstream:
        return await _relay(request, upstream.status, upstream.reason, upstream.headers, upstream.content_length,
                            upstream.content.iter_chunked(CHUNK))


async def _relay(
    request: web.Request,
    status: int,
    reason: str | None,
    headers: CIMultiDictProxy[str],
    content_length: int | None,
    body: AsyncIterator[bytes],
) -> web.StreamResponse:
    """Send the upstream's status, headers and body on to the client, streaming (both upstream legs)."""
    out = web.StreamResponse(status=status, reason=reason, headers=response_headers(headers))
    if content_length is not None:
        out.content_length = content_length
    await out.prepare(request)
    if request.method == "HEAD" or status in (204, 304):
        await out.write_eof()
        return out
    try:
        async for chunk in body:
            await out.write(chunk)
    except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
        # Headers are gone; the only honest signal left is to cut the connection mid-body.
        log.warning("upstream body interrupted: %s", type(exc).__name__)
        if request.transport is not None:
            request.transport.close()
        return out
    await out.write_eof()
    return out


_GET_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


async def _forward_lean(
    request: web.Request, pool: UpstreamPool, target: str, headers: CIMultiDict[str]
) -> web.StreamResponse:
    """The bodyless path on the lean client (upstream.py); the response is relayed the same way."""
    if request.method not in _GET_METHODS and "Content-Length" not in headers:
        headers["Content-Length"] = "0"  # what the aiohttp client sends for a bodyless POST/PUT/PATCH/DELETE
    upstream = await pool.request(request.method, target, headers)
    try:
        return await _relay(request, upstream.status, upstream.reason, upstream.headers, upstream.content_length,
                            upstream.iter_chunks(CHUNK))
    finally:
        upstream.abort()  # a no-op once the body was read to its end (the connection is back in the pool)
