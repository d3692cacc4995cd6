"""A bundled stand-in for Apptoto's API, for the quick start: answers JSON and shows what the gateway forwarded."""

from __future__ import annotations

import asyncio

from aiohttp import web

_SAMPLE: dict[str, dict[str, object]] = {
    "/v1/events": {"events": [{"id": 1, "title": "Dentist", "start_time": "2026-12-01T09:00:00-08:00"}]},
    "/v1/contacts": {"contacts": [{"id": 7, "name": "Ada Lovelace", "phone": "+15555550100"}]},
    "/v1/status": {"status": "ok"},
}


async def handle(request: web.Request) -> web.Response:
    body = await request.read()
    payload: dict[str, object] = {
        **_SAMPLE.get(request.path, {}),
        "demo_upstream": {
            "method": request.method,
            "path": request.raw_path,
            "body_bytes": len(body),
            "identity": {k: v for k, v in request.headers.items() if k.lower().startswith("x-auth-")},
            "request_id": request.headers.get("X-Request-Id"),
        },
    }
    return web.json_response(payload)


async def stream_bytes(request: web.Request) -> web.StreamResponse:
    """GET /demo/bytes/{n}: n zero bytes, streamed (lets a newcomer or a test watch large downloads pass through)."""
    n = int(request.match_info["n"])
    resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    resp.content_length = n
    await resp.prepare(request)
    chunk = bytes(65536)
    while n > 0:
        await resp.write(chunk[: min(n, len(chunk))])
        n -= len(chunk)
    return resp


async def slow(request: web.Request) -> web.Response:
    """GET /demo/slow/{ms}: answers after a delay (shows timeouts and draining at shutdown)."""
    await asyncio.sleep(int(request.match_info["ms"]) / 1000)
    return web.json_response({"slept_ms": int(request.match_info["ms"])})


async def count_upload(request: web.Request) -> web.Response:
    """POST /demo/upload: counts the body without keeping it."""
    total = 0
    async for chunk in request.content.iter_chunked(65536):
        total += len(chunk)
    return web.json_response({"received": total})


def build_demo_upstream() -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get(r"/demo/bytes/{n:\d{1,12}}", stream_bytes)
    app.router.add_post("/demo/upload", count_upload)
    app.router.add_get(r"/demo/slow/{ms:\d{1,6}}", slow)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="run the demo upstream alone")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    web.run_app(build_demo_upstream(), host=args.host, port=args.port, access_log=None, print=None)
