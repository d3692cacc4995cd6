"""Reference servers that bound what an aiohttp-based gateway can reach on this machine (same uvloop, same upstream).

python -m bench.floor hello --port P             aiohttp answering the 213-byte body itself: the server floor
python -m bench.floor app --port P               the same server as the benchmark's application-server upstream
                                                 (aiohttp on uvloop, 213-byte JSON, keep-alive)
python -m bench.floor proxy --port P --upstream URL   aiohttp server + one pooled aiohttp ClientSession, no
                                                 auth, no header work: the floor of scopegate's architecture
"""

from __future__ import annotations

import argparse

import aiohttp
from aiohttp import web

from bench.servers import upstream_body

SESSION = web.AppKey("session", aiohttp.ClientSession)
BASE = web.AppKey("base", str)


def hello_app() -> web.Application:
    body = upstream_body().encode()

    async def hello(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hello)
    return app


def proxy_app(upstream: str) -> web.Application:
    async def proxy(request: web.Request) -> web.StreamResponse:
        async with request.app[SESSION].request(
            request.method, request.app[BASE] + request.raw_path, allow_redirects=False
        ) as up:
            body = await up.read()
            return web.Response(status=up.status, body=body, content_type=up.content_type)

    async def ctx(app: web.Application):  # type: ignore[no-untyped-def]
        app[SESSION] = aiohttp.ClientSession(auto_decompress=False, connector=aiohttp.TCPConnector(limit=0))
        yield
        await app[SESSION].close()

    app = web.Application()
    app[BASE] = upstream
    app.cleanup_ctx.append(ctx)
    app.router.add_route("*", "/{tail:.*}", proxy)
    return app


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.floor")
    p.add_argument("mode", choices=("hello", "app", "proxy"))
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", default="")
    a = p.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    app = proxy_app(a.upstream) if a.mode == "proxy" else hello_app()
    web.run_app(app, host="127.0.0.1", port=a.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
