"""Send a decided request to the upstream and its response back, with bounded memory both ways.

Every request goes through the one upstream client (upstream.py). Request bodies are relayed as the client sent
them: the listener does not decompress (see app.py), so `Content-Encoding` bodies pass byte for byte with the
client's own framing. A response that has fully arrived by the time its head is read goes out in one write;
a larger one streams. Errors before the response starts map to 502/504; after it starts the client connection is
cut, since a status can no longer change.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.errors import PayloadTooLarge
from gateway.proxy.mutate import response_headers
from gateway.proxy.upstream import UpstreamPool, UpstreamResponse

log = logging.getLogger("scopegate.proxy")

CHUNK = 64 * 1024


async def _limited(request: web.Request, limit: int) -> AsyncIterator[bytes]:
    sent = 0
    async for chunk in request.content.iter_chunked(CHUNK):
        sent += len(chunk)
        if sent > limit:
            raise PayloadTooLarge(f"the request body exceeds {limit} bytes", reason="body_too_large")
        yield chunk


async def forward(
    request: web.Request,
    pool: UpstreamPool,
    target: str,
    headers: list[tuple[str, str]],
    body_limit: int,
) -> web.StreamResponse:
    body: AsyncIterator[bytes] | None = None
    length = request.content_length
    if request.body_exists:
        if length is not None and length > body_limit:
            raise PayloadTooLarge(f"the request body exceeds {body_limit} bytes", reason="body_too_large")
        body = _limited(request, body_limit)
    upstream = await pool.request(request.method, target, headers, body, length if body is not None else None)
    try:
        return await _relay(request, upstream)
    finally:
        upstream.abort()  # a no-op once the response was read to its end (the connection is back in the pool)


async def _relay(request: web.Request, upstream: UpstreamResponse) -> web.StreamResponse:
    """Send the upstream's status, headers and body on to the client."""
    status = upstream.status
    headers = response_headers(upstream.head.fields, upstream.head.connection)
    if request.method == "HEAD" or status in (204, 304):
        out = web.StreamResponse(status=status, reason=upstream.reason, headers=headers)
        if upstream.content_length is not None:
            out.content_length = upstream.content_length  # HEAD answers with the length GET would have
        upstream.whole_body()
        await out.prepare(request)
        await out.write_eof()
        return out
    whole = upstream.whole_body()
    if whole is not None:
        return web.Response(status=status, reason=upstream.reason, headers=headers, body=whole)
    out = web.StreamResponse(status=status, reason=upstream.reason, headers=headers)
    if upstream.content_length is not None:
        out.content_length = upstream.content_length
    await out.prepare(request)
    try:
        async for chunk in upstream.iter_chunks():
            await out.write(chunk)
    except ConnectionError as exc:  # UpstreamBodyError included
        # Headers are gone; the only honest signal left is to cut the connection mid-body.
        log.warning("upstream body interrupted: %s", type(exc).__name__)
        if request.transport is not None:
            request.transport.close()
        return out
    except TimeoutError:
        log.warning("upstream body interrupted: timeout")
        if request.transport is not None:
            request.transport.close()
        return out
    await out.write_eof()
    return out
