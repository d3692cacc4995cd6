"""The peer's auth service: what people usually put behind nginx `auth_request`.

Same lookup as scopegate with its cache disabled: HMAC-SHA256 the bearer token with the shared secret, one GET on
Redis with redis-py (scopegate's key and value format), check expiry and the scope nginx names in
X-Required-Scope. 200 with identity headers, 401 or 403 otherwise. No cache, no checksum pre-check (a typical
service has neither). Runs on uvloop when installed, like scopegate.

    python -m bench.peer_auth --port PORT --redis-url URL   (secret in SCOPEGATE_SECRET_KEY)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import time

import redis.asyncio as aioredis
from aiohttp import web

KEY_PREFIX = "sg:at:"  # gateway.store.keyspace.access_token
SCOPE_BITS = "sg:scopebits"

R = web.AppKey("redis", aioredis.Redis)
BITS = web.AppKey("bits", dict)
SECRET = web.AppKey("secret", bytes)


def token_hash(key: bytes, raw: str) -> str:
    digest = hmac.new(key, raw.encode("utf-8"), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def auth(request: web.Request) -> web.Response:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return web.Response(status=401)
    raw = await request.app[R].get(KEY_PREFIX + token_hash(request.app[SECRET], token.strip()))
    if raw is None:
        return web.Response(status=401)
    value: str = raw if isinstance(raw, str) else raw.decode()
    _gid, client_id, _iat, exp, bits, user_id = value.split("|", 5)
    if int(exp) <= time.time():
        return web.Response(status=401)
    need = request.headers.get("X-Required-Scope", "")
    if need:
        bit = request.app[BITS].get(need)
        if bit is None or not (int(bits, 16) >> bit) & 1:
            return web.Response(status=403)
    return web.Response(status=200, headers={"X-Auth-User-Id": user_id, "X-Auth-Client-Id": client_id})


async def _ctx(app: web.Application) -> object:
    client = app[R]
    app[BITS] = {k: int(v) for k, v in (await client.hgetall(SCOPE_BITS)).items()}
    yield
    await client.aclose()


def build(redis_url: str, secret: bytes) -> web.Application:
    app = web.Application()
    app[R] = aioredis.Redis.from_url(redis_url, decode_responses=True, max_connections=64)
    app[SECRET] = secret
    app.cleanup_ctx.append(_ctx)  # type: ignore[arg-type]
    app.router.add_get("/auth", auth)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peer_auth")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    secret = os.environ["SCOPEGATE_SECRET_KEY"].encode("utf-8")
    web.run_app(
        build(args.redis_url, secret),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
        handle_signals=True,
    )


if __name__ == "__main__":
    main()
