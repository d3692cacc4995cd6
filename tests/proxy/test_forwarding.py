"""Forwarding: streaming both ways, compression untouched, limits, upstream failures, client disconnects."""

from __future__ import annotations

import asyncio
import gzip
import hashlib

import pytest
from aiohttp import web

from tests.conftest import free_port
from tests.proxy.helpers import bearer, issue, register_app


@pytest.fixture
async def gw(make_gateway, echo_upstream):
    client, services = await make_gateway(echo_upstream.url, upstream_timeouts={"connect": 1, "read": 0.5})
    app = await register_app(services)
    tokens = await issue(services, app, ["events:read", "events:write", "imports:write"])
    return client, services, tokens, echo_upstream


async def test_large_chunked_upload_is_streamed_intact(gw):
    client, _, tokens, upstream = gw
    chunk = bytes(range(256)) * 256  # 64 KiB
    digest = hashlib.sha256()

    async def body():
        for _ in range(80):  # 5 MiB, chunked (no Content-Length)
            digest.update(chunk)
            yield chunk

    resp = await client.post("/v1/events", headers=bearer(tokens.access_token), data=body())
    assert resp.status == 200
    seen = upstream.last
    assert hashlib.sha256(seen.body).hexdigest() == digest.hexdigest()
    assert seen.headers.get("Transfer-Encoding") == "chunked"


async def test_known_length_upload_keeps_its_content_length(gw):
    client, _, tokens, upstream = gw
    payload = b"x" * 100_000
    resp = await client.put("/v1/events", headers=bearer(tokens.access_token), data=payload)
    assert resp.status == 200
    assert upstream.last.headers["Content-Length"] == "100000"
    assert upstream.last.body == payload


async def test_download_is_streamed_and_compressed_bodies_pass_untouched(gw):
    client, _, tokens, upstream = gw
    raw = b'{"events": []}' * 50_000
    compressed = gzip.compress(raw)

    async def special(request: web.Request, body: bytes) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={
                "Content-Encoding": "gzip",
                "Content-Type": "application/json",
                "Content-Length": str(len(compressed)),
            }
        )
        await resp.prepare(request)
        for i in range(0, len(compressed), 8192):
            await resp.write(compressed[i : i + 8192])
        return resp

    upstream.special = special
    resp = await client.get(
        "/v1/events", headers={**bearer(tokens.access_token), "Accept-Encoding": "gzip"}, auto_decompress=False
    )
    assert resp.status == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert int(resp.headers["Content-Length"]) == len(compressed)
    assert await resp.read() == compressed


async def test_chunked_download_without_length(gw):
    client, _, tokens, upstream = gw

    async def special(request: web.Request, body: bytes) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(100):
            await resp.write(b"%d," % i)
        return resp

    upstream.special = special
    resp = await client.get("/v1/events", headers=bearer(tokens.access_token))
    assert await resp.read() == b"".join(b"%d," % i for i in range(100))


async def test_upstream_status_and_headers_are_relayed(gw):
    client, _, tokens, upstream = gw

    async def special(request: web.Request, body: bytes) -> web.StreamResponse:
        return web.json_response({"error": "nope"}, status=422, headers={"X-Upstream": "1", "Connection": "close"})

    upstream.special = special
    resp = await client.post("/v1/events", headers=bearer(tokens.access_token), json={})
    assert resp.status == 422
    assert resp.headers["X-Upstream"] == "1"
    assert await resp.json() == {"error": "nope"}


async def test_body_over_the_limit_is_413_and_not_forwarded(make_gateway, echo_upstream):
    client, services = await make_gateway(
        echo_upstream.url,
        max_body=1000,
        routes=[
            {"methods": ["POST"], "path": "/v1/events", "scope": "events:write"},
            {"methods": ["POST"], "path": "/v1/import", "scope": "imports:write", "max_body": 5000},
        ],
    )
    app = await register_app(services)
    tokens = await issue(services, app, ["events:write", "imports:write"])
    resp = await client.post("/v1/events", headers=bearer(tokens.access_token), data=b"x" * 1001)
    assert resp.status == 413
    assert echo_upstream.seen == []
    assert (await client.post("/v1/import", headers=bearer(tokens.access_token), data=b"x" * 4000)).status == 200

    async def body():
        for _ in range(10):
            yield b"y" * 1000

    resp = await client.post("/v1/import", headers=bearer(tokens.access_token), data=body())
    assert resp.status == 413
    assert len(echo_upstream.seen) == 1  # only the request under the limit arrived whole


async def test_upstream_unreachable_is_502(make_gateway):
    client, services = await make_gateway(f"http://127.0.0.1:{free_port()}")
    app = await register_app(services)
    tokens = await issue(services, app, ["events:read"])
    resp = await client.get("/v1/events", headers=bearer(tokens.access_token))
    assert resp.status == 502
    assert (await resp.json())["error"] == "bad_gateway"


async def test_upstream_timeout_is_504(gw):
    client, _, tokens, upstream = gw

    async def special(request: web.Request, body: bytes) -> web.StreamResponse:
        await asyncio.sleep(3)
        return web.Response(text="late")

    upstream.special = special
    resp = await client.get("/v1/events", headers=bearer(tokens.access_token))
    assert resp.status == 504
    assert (await resp.json())["error"] == "gateway_timeout"


async def test_client_disconnect_cancels_the_upstream_call(gw):
    client, _, tokens, upstream = gw
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def special(request: web.Request, body: bytes) -> web.StreamResponse:
        started.set()
        try:
            await asyncio.sleep(0.4)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return web.Response(text="done")

    upstream.special = special
    _, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        b"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tokens.access_token.encode() + b"\r\n\r\n"
    )
    await writer.drain()
    await asyncio.wait_for(started.wait(), 5)
    writer.close()
    await writer.wait_closed()
    await asyncio.wait_for(cancelled.wait(), 5)  # the upstream saw its connection go away before answering


async def test_websocket_upgrade_is_not_tunnelled(gw):
    client, _, tokens, upstream = gw
    headers = {
        **bearer(tokens.access_token),
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    resp = await client.get("/v1/events", headers=headers)
    assert resp.status == 200  # answered as plain HTTP
    assert "upgrade" not in {k.lower() for k in upstream.last.headers}
