"""Kill -9 a gateway at random instants of a large application DELETE, many times: the client retries the DELETE on
another process (200, or 404 when the killed one had finished it), after which no token of the application is
valid anywhere, and the clean-up (queued with the delete) is finished by a process that starts afterwards."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from pathlib import Path

import pytest
import redis
import requests

from gateway.store import keyspace as ks
from tests.conftest import ADMIN_TOKEN
from tests.e2e.harness import GatewayProcess
from tests.e2e.tokens import mint_token_and_client

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
USERS = 3000  # consent rows and grants: a clean-up of several batches

pytestmark = pytest.mark.slow


def _bulk(redis_url: str, client_id: str) -> None:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        p = r.pipeline(transaction=False)
        consent = '{"scopes": ["events:read"], "authorized_at": 1}'
        for i in range(USERS):
            uid, gid = f"u{i}", f"{client_id}.g{i}"
            p.hset(ks.app_consents(client_id), uid, consent)
            p.sadd(ks.client_users(client_id), uid)
            p.hset(ks.authorizations(uid), client_id, consent)
            p.set(ks.grant(gid), f"{client_id}|0|0|0|1|1|rt{i}|{uid}", ex=3600)
            p.sadd(ks.app_grants(client_id), gid)
        p.execute()
    finally:
        r.close()


def _leftovers(redis_url: str, client_id: str) -> int:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return int(
            r.exists(
                ks.app_grants(client_id), ks.client_users(client_id), ks.app_consents(client_id), ks.app(client_id)
            )
        ) + int(r.hexists(ks.authorizations(f"u{USERS - 1}"), client_id))
    finally:
        r.close()


def _restart(config: Path) -> GatewayProcess:
    for attempt in range(3):  # a free port picked for it may be taken meanwhile by another process: pick again
        try:
            return GatewayProcess(config)
        except RuntimeError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def test_kill_during_delete_then_retry_leaves_no_valid_token_and_cleanup_finishes(
    gateways: list[GatewayProcess], redis_url: str, tmp_path: Path
) -> None:
    rng = random.Random(10)
    victim, survivor = gateways
    config = Path(str(victim.log_path).rsplit(".", 2)[0] + ".yaml")
    outcomes: dict[str, int] = {}
    for _ in range(10):
        token, client_id = mint_token_and_client(redis_url, scopes=["events:read"])
        _bulk(redis_url, client_id)
        bearer = {"Authorization": f"Bearer {token}"}
        assert requests.get(survivor.url + "/v1/events", headers=bearer, timeout=2).status_code == 200

        def delete(gw: GatewayProcess = victim, cid: str = client_id) -> None:
            with contextlib.suppress(requests.RequestException):  # killed mid-request: no answer
                requests.delete(f"{gw.admin_url}/admin/applications/{cid}", headers=ADMIN, timeout=5)

        thread = threading.Thread(target=delete)
        thread.start()
        time.sleep(rng.choice([0, 0, rng.uniform(0, 0.004)]))  # some before the request is read, some during
        victim.proc.kill()
        victim.proc.wait()
        thread.join()

        # The client retries on another process: 200, or 404 when the killed process had deleted it.
        retry = requests.delete(f"{survivor.admin_url}/admin/applications/{client_id}", headers=ADMIN, timeout=5)
        assert retry.status_code in (200, 404), retry.text
        outcomes[str(retry.status_code)] = outcomes.get(str(retry.status_code), 0) + 1
        assert requests.get(survivor.url + "/v1/events", headers=bearer, timeout=2).status_code == 401

        # A process started afterwards finishes whatever clean-up the killed one left (the queue).
        victim.stop()
        victim = _restart(config)
        gateways[0] = victim
        assert requests.get(victim.url + "/v1/events", headers=bearer, timeout=2).status_code == 401
        deadline = time.monotonic() + 10
        while _leftovers(redis_url, client_id) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _leftovers(redis_url, client_id) == 0
    print(f"\n[delete crash] retries answered {outcomes}")
