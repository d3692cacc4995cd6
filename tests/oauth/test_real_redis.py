"""The flow on a real redis-server, and a sweep for leaks: after a full workout of every endpoint no raw token, code,
secret, session id or PKCE verifier appears in any Redis key or value, nor in the captured logs."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

from tests.oauth.helpers import (
    STATIC_LOGIN,
    basic_header,
    exchange,
    full_flow,
    get_code,
    login,
    pkce_pair,
    register,
    token_request,
)


async def redis_text(url: str) -> str:
    import redis.asyncio as aioredis

    r = aioredis.Redis.from_url(url, decode_responses=True)
    parts: list[str] = []
    try:
        async for key in r.scan_iter(count=1000):
            parts.append(key)
            kind = await r.type(key)
            if kind == "string":
                parts.append(str(await r.get(key)))
            elif kind == "hash":
                parts.append(str(await r.hgetall(key)))
            elif kind == "set":
                parts.append(str(await r.smembers(key)))
            elif kind == "stream":
                parts.append(str(await r.xrange(key)))
    finally:
        await r.aclose()
    return "\n".join(parts)


@pytest.fixture
async def real(make_gateway: Any, echo_upstream: Any, redis_url: str) -> Any:
    client, services = await make_gateway(echo_upstream.url, redis_url=redis_url, login=STATIC_LOGIN)
    return client, services, redis_url


async def test_flow_refresh_and_replay_on_real_redis(real: Any) -> None:
    client, services, _ = real
    reg = await register(services)
    await login(client)
    body = await full_flow(client, reg, scope="events:read")
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await client.get("/v1/events", headers=bearer)).status == 200
    assert (await client.get("/v1/contacts", headers=bearer)).status == 403
    resp = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert resp.status == 200
    again = await token_request(client, reg, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert again.status == 400
    new = await resp.json()
    assert (await client.get("/v1/events", headers={"Authorization": f"Bearer {new['access_token']}"})).status == 401


async def test_concurrent_code_redemption_on_real_redis(real: Any) -> None:
    client, services, _ = real
    reg = await register(services)
    await login(client)
    code = await get_code(client, reg, scope="events:read")
    results = await asyncio.gather(*(exchange(client, reg, code) for _ in range(8)))
    statuses = [r.status for r in results]
    assert statuses.count(200) <= 1  # redeemed at most once, atomically
    assert statuses.count(400) >= 7
    # The code was replayed, so whatever was minted from it is withdrawn (RFC 6749 §4.1.2), whichever
    # exchange won the race and whenever the replays arrived.
    for r in results:
        if r.status == 200:
            token = (await r.json())["access_token"]
            resp = await client.get("/v1/events", headers={"Authorization": f"Bearer {token}"})
            assert resp.status == 401


async def test_throttling_on_real_redis(make_gateway: Any, echo_upstream: Any, redis_url: str) -> None:
    client, services = await make_gateway(
        echo_upstream.url, redis_url=redis_url, login=STATIC_LOGIN, client_auth={"max_failures": 2, "window": 60}
    )
    reg = await register(services)
    statuses = []
    for _ in range(3):
        resp = await client.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": "x"},
            headers={"Authorization": basic_header(reg.client_id, "sgcs_nope")},
        )
        statuses.append(resp.status)
    assert statuses == [401, 401, 429]


async def test_no_raw_secret_in_redis_or_logs(real: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client, services, url = real
    secrets_seen: list[str] = []

    server = await register(services)
    public = await register(services, server_side=False, name="Mobile")
    assert public.secret == ""  # a public application has no secret
    secrets_seen += [server.secret]
    await login(client)
    cookie = next(c.value for c in client.session.cookie_jar if c.key == "sg_session")
    secrets_seen.append(cookie.partition(".")[0])  # the raw session id

    # Server-side: code, tokens, refresh, replay, revoke, introspect.
    code = await get_code(client, server, scope="events:read contacts:read")
    body = await (await exchange(client, server, code)).json()
    await exchange(client, server, code)  # replay
    secrets_seen += [code, body["access_token"], body["refresh_token"]]
    body = await full_flow(client, server, scope="events:read")
    secrets_seen += [body["access_token"], body["refresh_token"]]
    rotated = await (
        await token_request(client, server, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    ).json()
    secrets_seen += [rotated["access_token"], rotated["refresh_token"]]
    await token_request(client, server, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    await token_request(client, server, {"token": rotated["access_token"]}, path="/oauth/introspect")
    await token_request(client, server, {"token": rotated["refresh_token"]}, path="/oauth/revoke")
    await client.get("/v1/events", headers={"Authorization": f"Bearer {rotated['access_token']}"})

    # Public client with PKCE.
    verifier, challenge = pkce_pair()
    pcode = await get_code(client, public, code_challenge=challenge, code_challenge_method="S256")
    pbody = await (await exchange(client, public, pcode, verifier=verifier)).json()
    secrets_seen += [pcode, verifier, pbody["access_token"], pbody["refresh_token"]]
    await client.get("/v1/contacts", headers={"Authorization": f"Bearer {pbody['access_token']}"})

    # Failed client authentication and failed logins.
    await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": pbody["refresh_token"]},
        headers={"Authorization": basic_header(server.client_id, "sgcs_wrongsecret")},
    )
    resp = await client.get("/oauth/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', await resp.text())
    assert csrf
    await client.post("/oauth/login", data={"username": "demo", "password": "not-the-password", "csrf": csrf.group(1)})

    # Account page + revoke.
    account = await (
        await client.get("/account/authorized-applications", headers={"Accept": "application/json"})
    ).json()
    secrets_seen.append(account["csrf_token"])
    await client.post(
        f"/account/authorized-applications/{public.client_id}/revoke", headers={"X-CSRF-Token": account["csrf_token"]}
    )

    dump = await redis_text(url)
    logs = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    assert "sg:at:" in dump and "sg:rt:" in dump  # the sweep did see the (hashed) token keys
    for value in secrets_seen:
        assert value not in dump, "a raw secret is stored in Redis"
        assert value not in logs, "a raw secret is in the logs"
    assert "not-the-password" not in dump and "not-the-password" not in logs
    for prefix in ("sgat_", "sgrt_", "sgac_", "sgcs_"):
        assert prefix not in dump
