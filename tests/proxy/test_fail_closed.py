"""Fail closed: with Redis stopped protected routes answer 503 and the upstream sees nothing; then recovery."""

from __future__ import annotations

import asyncio

from tests.conftest import RedisServer
from tests.proxy.helpers import bearer, issue, register_app


async def test_redis_down_is_503_never_a_pass_and_recovers(
    make_gateway, echo_upstream, redis_server: RedisServer, redis_url: str
):
    client, services = await make_gateway(echo_upstream.url, redis_url=redis_url)
    app = await register_app(services)
    tokens = await issue(services, app, ["events:read"])
    assert (await client.get("/v1/events", headers=bearer(tokens.access_token))).status == 200  # cache warm
    before = len(echo_upstream.seen)
    redis_server.stop()
    try:
        for _ in range(200):  # the subscription notices the closed connection at once; the cache is then dropped
            if not services.validator.subscribed:
                break
            await asyncio.sleep(0.01)
        for path in ("/v1/events", "/v1/contacts"):
            resp = await client.get(path, headers=bearer(tokens.access_token))
            assert resp.status == 503
            assert resp.headers["Retry-After"] == "1"
            assert (await resp.json())["error"] == "temporarily_unavailable"
        assert (await client.get("/readyz")).status == 503
        assert len(echo_upstream.seen) == before
        # A token with a bad checksum is still refused without Redis: 401, not 503.
        assert (await client.get("/v1/events", headers=bearer("sgat_" + "x" * 49))).status == 401
    finally:
        redis_server.start()
    status, body = 0, ""
    for _ in range(750):
        resp = await client.get("/v1/events", headers=bearer(tokens.access_token))
        status, body = resp.status, await resp.text()
        if status == 200:
            break
        await asyncio.sleep(0.02)
    assert status == 200, body
    # Ready again once the new subscription has proven itself (resubscribing backs off up to 2 s).
    for _ in range(200):
        if (await client.get("/readyz")).status == 200:
            break
        await asyncio.sleep(0.02)
    assert (await client.get("/readyz")).status == 200


async def test_metrics_and_access_log_never_carry_a_token(make_gateway, echo_upstream):
    import io
    import json

    from gateway.accesslog import AccessLog

    client, services = await make_gateway(echo_upstream.url)
    sink = io.StringIO()
    services.access_log = AccessLog(sink)
    app = await register_app(services)
    tokens = await issue(services, app, ["events:read"])
    await client.get("/v1/events?secret=1", headers=bearer(tokens.access_token))
    await client.get("/v1/contacts", headers=bearer(tokens.access_token))
    await client.get('/v1/ev"ents', headers=bearer(tokens.access_token))
    services.access_log.flush()
    lines = sink.getvalue().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one valid JSON object
    assert records[-1]["path"] == '/v1/ev"ents' and records[-1]["status"] == 404
    assert any('"route":"events.list","decision":"allow","reason":"allowed","status":200' in line for line in lines)
    assert any(
        '"route":"contacts.list","decision":"deny","reason":"insufficient_scope","status":403' in line for line in lines
    )
    text = "\n".join(lines)
    assert tokens.access_token not in text and "secret=1" not in text
    from prometheus_client import generate_latest

    metrics = generate_latest(services.metrics.registry).decode()
    assert 'route="events.list"' in metrics and tokens.access_token not in metrics


async def test_slow_redis_is_503_not_a_wait_nor_a_pass(make_gateway, echo_upstream, redis_url: str):
    import redis.asyncio as aioredis

    client, services = await make_gateway(
        echo_upstream.url, redis_url=redis_url, redis={"timeout": 0.2}, cache={"enabled": False}
    )
    app = await register_app(services)
    tokens = await issue(services, app, ["events:read"])
    assert (await client.get("/v1/events", headers=bearer(tokens.access_token))).status == 200
    before = len(echo_upstream.seen)
    admin = aioredis.Redis.from_url(redis_url)
    sleeper = asyncio.create_task(admin.execute_command("DEBUG", "SLEEP", "1.5"))  # Redis stalls for 1.5 s
    try:
        await asyncio.sleep(0.1)
        resp = await client.get("/v1/events", headers=bearer(tokens.access_token))
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "1"
        assert len(echo_upstream.seen) == before
    finally:
        await sleeper
        await admin.aclose()
    status = 0
    for _ in range(250):
        status = (await client.get("/v1/events", headers=bearer(tokens.access_token))).status
        if status == 200:
            break
        await asyncio.sleep(0.02)
    assert status == 200
