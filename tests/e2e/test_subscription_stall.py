"""A silently stalled link to Redis (issue 10): a real `scopegate serve` reaches Redis through a relay that stops
forwarding without closing. A token revoked while its message is stuck in the relay is refused (401 or 503, never
200) within the liveness bound (`redis.subscription_timeout`, 1 s); `/readyz` says not ready while stalled; all
recovers once the relay forwards again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from gateway.store.redis_store import connect
from tests.e2e.harness import GatewayProcess, UpstreamProcess, write_config
from tests.e2e.relay import StallingRelay
from tests.e2e.tokens import mint_token

BOUND = 1.0  # redis.subscription_timeout
SLACK = 0.5  # scheduling, the request loop's own pace


@pytest.fixture
def relayed(redis_url: str, tmp_path: Path) -> Iterator[tuple[GatewayProcess, StallingRelay]]:
    target = urlsplit(redis_url)
    relay = StallingRelay(target.hostname or "127.0.0.1", target.port or 6379)
    upstream = UpstreamProcess()
    gw = GatewayProcess(
        write_config(
            tmp_path, upstream=upstream.url, redis_url=relay.url, redis={"timeout": 0.5, "subscription_timeout": BOUND}
        )
    )
    try:
        yield gw, relay
    finally:
        relay.resume()
        gw.stop()
        upstream.stop()
        relay.close()


def _status(gw: GatewayProcess, token: str) -> int:
    return requests.get(gw.url + "/v1/events", headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code


def _ready(gw: GatewayProcess) -> dict[str, object]:
    resp = requests.get(gw.url + "/readyz", timeout=5)
    body: dict[str, object] = resp.json()
    assert (resp.status_code == 200) == (body["ready"] is True)
    return body


def _revoke_directly(redis_url: str, user_id: str) -> None:
    async def go() -> None:
        store = connect(redis_url)
        try:
            await store.revoke_user(user_id)  # the epoch bump, then the message the stalled relay holds
        finally:
            await store.close()

    asyncio.run(go())


def _refused_after_stall(
    gw: GatewayProcess, relay: StallingRelay, redis_url: str, *, pubsub_only: bool, allowed: set[int]
) -> float:
    token = mint_token(redis_url, scopes=["events:read"], user_id="1001")
    for _ in range(3):
        assert _status(gw, token) == 200  # cached facts
    assert _ready(gw)["revocation_subscription"] is True
    relay.stall(pubsub_only=pubsub_only)
    stalled_at = time.monotonic()
    _revoke_directly(redis_url, "1001")
    first_refusal: float | None = None
    statuses: list[int] = []
    while time.monotonic() - stalled_at < BOUND + SLACK + 1.5:
        sent = time.monotonic() - stalled_at
        status = _status(gw, token)
        statuses.append(status)
        if status != 200 and first_refusal is None:
            first_refusal = sent  # when the first refused request was sent (a 503 itself waits redis.timeout)
        if first_refusal is not None:
            assert status in allowed, statuses  # never 200 again once refused
        time.sleep(0.02)
    assert first_refusal is not None and first_refusal <= BOUND + SLACK, (first_refusal, statuses)
    body = _ready(gw)
    assert body["ready"] is False and body["revocation_subscription"] is False
    metrics = requests.get(gw.admin_url + "/metrics", headers=gw.admin_headers, timeout=5).text
    assert "scopegate_revocation_subscribed 0.0" in metrics
    assert "revocation subscription down" in gw.logs()

    relay.resume()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _ready(gw)["ready"] is not True:
        time.sleep(0.05)
    assert _ready(gw)["ready"] is True
    assert _status(gw, token) == 401  # still revoked after recovery
    fresh = mint_token(redis_url, scopes=["events:read"], user_id="2002")
    assert _status(gw, fresh) == 200
    assert "revocation subscription live" in gw.logs()
    return first_refusal


@pytest.mark.slow
def test_stalled_subscription_alone_is_detected_and_revoked_tokens_refused(relayed, redis_url):
    gw, relay = relayed
    # Only the pub/sub connection stalls: the command connections still answer, so requests read Redis: 401.
    detected = _refused_after_stall(gw, relay, redis_url, pubsub_only=True, allowed={401})
    print(f"pub/sub-only stall: revoked token refused {detected:.3f} s after the stall began")


@pytest.mark.slow
def test_whole_link_stalled_is_detected_and_revoked_tokens_refused(relayed, redis_url):
    gw, relay = relayed
    # Every connection stalls: nothing can be read, so 503 (or 401 once the relay resumes), never 200.
    detected = _refused_after_stall(gw, relay, redis_url, pubsub_only=False, allowed={401, 503})
    print(f"whole-link stall: revoked token refused {detected:.3f} s after the stall began")
