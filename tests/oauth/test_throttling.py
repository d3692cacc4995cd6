"""Throttling that protects instead of locking out (issue 10), on the suite's real Redis.

- Counted before the expensive check: 30 parallel wrong passwords (or secrets) are checked at most `limit` times.
- Client authentication is throttled per source address (resolved through `trusted_proxies`), never per client id:
  strangers cannot lock a client out for a caller with the right secret.
- Sign-in: per (user, address) and per address, plus a slower global per-user window that a correct password from
  an address the user signed in from before still passes.
- 429 with Retry-After; at the token endpoint the error code is `invalid_request` (RFC 6749 §5.2 has no throttling
  code; `slow_down` is RFC 8628's device flow).
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import pytest

from gateway.network import client_address
from tests.oauth.helpers import DEMO, STATIC_LOGIN, basic_header, field, register

PROXY = ["127.0.0.1/32"]  # the test client connects from 127.0.0.1: a trusted proxy reporting X-Forwarded-For
REFRESH = {"grant_type": "refresh_token", "refresh_token": "sgrt_unknown"}


def xff(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def _sign_in(client: Any, username: str, password: str, address: str) -> int:
    resp = await client.get("/oauth/login")
    csrf = field(await resp.text(), "csrf")
    resp = await client.post(
        "/oauth/login",
        data={"username": username, "password": password, "csrf": csrf},
        headers=xff(address),
        allow_redirects=False,
    )
    return int(resp.status)


def test_client_address_walks_x_forwarded_for_through_trusted_proxies() -> None:
    trusted = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32"))
    assert client_address("127.0.0.1", [], trusted) == "127.0.0.1"
    assert client_address("198.51.100.1", ["203.0.113.9"], trusted) == "198.51.100.1"  # untrusted peer: ignored
    assert client_address("127.0.0.1", ["203.0.113.9"], trusted) == "203.0.113.9"
    # Spoofed entries on the left are never reached: the rightmost untrusted hop is the client.
    assert client_address("127.0.0.1", ["1.2.3.4, 203.0.113.9, 10.1.2.3"], trusted) == "203.0.113.9"
    assert client_address("127.0.0.1", ["1.2.3.4", "203.0.113.9"], trusted) == "203.0.113.9"
    assert client_address("127.0.0.1", ["garbage, 10.1.2.3"], trusted) == "10.1.2.3"
    assert client_address("127.0.0.1", ["203.0.113.9"], ()) == "127.0.0.1"
    assert client_address(None, [], ()) == "-"


@pytest.mark.slow
async def test_parallel_wrong_passwords_are_checked_at_most_limit_times(
    make_gateway: Any, echo_upstream: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gateway.portal.login as login_module

    checked: list[str] = []
    real_verify = login_module.verify_password

    def counting_verify(password: str, stored: str) -> bool:
        checked.append(password)
        return real_verify(password, stored)

    monkeypatch.setattr(login_module, "verify_password", counting_verify)
    client, _ = await make_gateway(
        echo_upstream.url, redis_url=redis_url, login=STATIC_LOGIN, client_auth={"max_failures": 10, "window": 60}
    )
    resp = await client.get("/oauth/login")
    csrf = field(await resp.text(), "csrf")

    async def attempt(i: int) -> int:
        r = await client.post(
            "/oauth/login", data={"username": "demo", "password": f"wrong-{i}", "csrf": csrf}, allow_redirects=False
        )
        return int(r.status)

    statuses = await asyncio.gather(*(attempt(i) for i in range(30)))
    assert len(checked) <= 10, len(checked)
    assert statuses.count(401) == len(checked) and statuses.count(429) == 30 - len(checked)


@pytest.mark.slow
async def test_parallel_wrong_secrets_are_checked_at_most_limit_times(
    make_gateway: Any, echo_upstream: Any, redis_url: str
) -> None:
    client, services = await make_gateway(
        echo_upstream.url, redis_url=redis_url, login=STATIC_LOGIN, client_auth={"max_failures": 10, "window": 60}
    )
    reg = await register(services)
    looked_up: list[str] = []
    real = services.store.secret_hashes

    async def counting(client_id: str) -> Any:
        looked_up.append(client_id)
        await asyncio.sleep(0.01)  # hold the race open
        return await real(client_id)

    services.store.secret_hashes = counting  # type: ignore[method-assign]
    bad = {"Authorization": basic_header(reg.client_id, "sgcs_wrong")}
    resps = await asyncio.gather(*(client.post("/oauth/token", data=REFRESH, headers=bad) for _ in range(30)))
    statuses = [r.status for r in resps]
    assert len(looked_up) <= 10, len(looked_up)
    assert statuses.count(401) == len(looked_up) and statuses.count(429) == 30 - len(looked_up)
    throttled = next(r for r in resps if r.status == 429)
    assert int(throttled.headers["Retry-After"]) >= 1
    body = await throttled.json()
    assert body["error"] == "invalid_request"  # never RFC 8628's slow_down


async def test_strangers_cannot_lock_a_client_out(make_gateway: Any, echo_upstream: Any, redis_url: str) -> None:
    client, services = await make_gateway(
        echo_upstream.url,
        redis_url=redis_url,
        login=STATIC_LOGIN,
        trusted_proxies=PROXY,
        client_auth={"max_failures": 3, "window": 60},
    )
    reg = await register(services)
    bad = basic_header(reg.client_id, "sgcs_wrong")
    for stranger in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        statuses = []
        for _ in range(5):
            resp = await client.post("/oauth/token", data=REFRESH, headers={"Authorization": bad, **xff(stranger)})
            statuses.append(resp.status)
        assert statuses == [401, 401, 401, 429, 429]
    # The right secret works, from the client's own address, whatever the strangers did with its client id.
    good = basic_header(reg.client_id, reg.secret)
    for _ in range(20):  # successes give their place back: no budget is spent by a busy, honest client
        resp = await client.post("/oauth/token", data=REFRESH, headers={"Authorization": good, **xff("198.51.100.7")})
        assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"  # authenticated
    # A spoofed X-Forwarded-For from an untrusted peer buys no fresh budget: without trusted_proxies the peer counts.
    client2, _ = await make_gateway(
        echo_upstream.url, redis_url=redis_url, login=STATIC_LOGIN, client_auth={"max_failures": 3, "window": 60}
    )
    statuses = []
    for i in range(5):
        resp = await client2.post("/oauth/token", data=REFRESH, headers={"Authorization": bad, **xff(f"192.0.2.{i}")})
        statuses.append(resp.status)
    assert statuses[-1] == 429


async def test_strangers_cannot_lock_a_user_out(make_gateway: Any, echo_upstream: Any, redis_url: str) -> None:
    client, _ = await make_gateway(
        echo_upstream.url,
        redis_url=redis_url,
        login=STATIC_LOGIN,
        trusted_proxies=PROXY,
        client_auth={"max_failures": 2, "window": 60},
    )
    home, roaming = "198.51.100.7", "198.51.100.99"
    assert await _sign_in(client, DEMO["username"], DEMO["password"], home) == 303  # remembered: (demo, home)
    # Strangers from 10 addresses: each is stopped after 2 failures; together they use up the global window (10).
    for i in range(10):
        statuses = [await _sign_in(client, DEMO["username"], "guess", f"203.0.113.{i}") for _ in range(3)]
        assert statuses[:2] == [401, 401] or statuses[0] == 429, statuses
        assert statuses[2] == 429
    assert await _sign_in(client, DEMO["username"], "guess", "203.0.113.200") == 429  # the global window
    # The user, from an address that signed in before, still gets in with the right password ...
    assert await _sign_in(client, DEMO["username"], DEMO["password"], home) == 303
    # ... while a new address waits for the global window (the stated trade-off), as does a wrong password
    # at home past the per-(user, address) limit.
    assert await _sign_in(client, DEMO["username"], DEMO["password"], roaming) == 429
    assert [await _sign_in(client, DEMO["username"], "typo", home) for _ in range(3)] == [401, 401, 429]
    # Other users are untouched.
    assert await _sign_in(client, "alice", "alice-password-1", "203.0.113.201") == 303
