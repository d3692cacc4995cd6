"""Revocation through two real `scopegate serve` processes: Authorized Applications and the admin API have the same
effect (the serving process refuses the token on the very next request, the other within 100 ms), and an id with
a space in it is revoked everywhere (events travel as JSON, not space-separated words)."""

from __future__ import annotations

import time
from urllib.parse import quote

import requests

from tests.e2e.harness import GatewayProcess
from tests.e2e.test_account_revoke_multiprocess import log_in, status_of
from tests.e2e.tokens import mint_token_and_client

LIMIT = 0.100


def _warm(gateways: list[GatewayProcess], token: str) -> None:
    for gw in gateways:
        for _ in range(3):
            assert status_of(gw, token) == 200  # cached facts on both processes


def _refused_everywhere(gateways: list[GatewayProcess], token: str) -> dict[int, float]:
    """The serving process (0) must refuse at once; every process within LIMIT."""
    assert status_of(gateways[0], token) == 401  # no wait: its own cache was dropped before it answered
    started = time.perf_counter()
    seen = {0: 0.0}
    while len(seen) < len(gateways) and time.perf_counter() - started < 2.0:
        for i, gw in enumerate(gateways):
            if i not in seen and status_of(gw, token) == 401:
                seen[i] = time.perf_counter() - started
    assert set(seen) == set(range(len(gateways))), seen
    assert max(seen.values()) < LIMIT, seen
    return seen


def test_authorized_applications_revoke_has_the_admin_apis_effect(gateways, redis_url):
    by_user, by_user_client = mint_token_and_client(redis_url, scopes=["events:read"], user_id="1001", record=True)
    by_admin, by_admin_client = mint_token_and_client(redis_url, scopes=["events:read"], user_id="1001", record=True)
    _warm(gateways, by_user)
    _warm(gateways, by_admin)

    browser = log_in(gateways[0])
    csrf = browser.get(
        gateways[0].url + "/account/authorized-applications", headers={"Accept": "application/json"}, timeout=5
    ).json()["csrf_token"]
    revoked = browser.post(
        f"{gateways[0].url}/account/authorized-applications/{by_user_client}/revoke",
        headers={"X-CSRF-Token": csrf},
        timeout=5,
    )
    assert revoked.status_code == 200, revoked.text
    user_seen = _refused_everywhere(gateways, by_user)
    assert status_of(gateways[1], by_admin) == 200  # only that authorization

    deleted = requests.delete(
        f"{gateways[0].admin_url}/admin/users/1001/authorizations/{by_admin_client}",
        headers=gateways[0].admin_headers,
        timeout=5,
    )
    assert deleted.status_code == 200, deleted.text
    admin_seen = _refused_everywhere(gateways, by_admin)
    print(f"\n[revoke] 401 after (ms): Authorized Applications {user_seen}, admin API {admin_seen}")

    events = requests.get(f"{gateways[0].admin_url}/admin/audit", headers=gateways[0].admin_headers, timeout=5).json()[
        "events"
    ]
    revokes = {e["client_id"]: e for e in events if e["action"] == "authorization.revoked"}
    assert revokes[by_user_client]["actor"] == "user:1001" and revokes[by_user_client]["had_authorization"]
    assert revokes[by_admin_client]["had_authorization"] and revokes[by_admin_client]["user_id"] == "1001"


def test_a_user_id_with_a_space_is_revoked_everywhere_at_once(gateways, redis_url):
    spaced, client_id = mint_token_and_client(redis_url, scopes=["events:read"], user_id="Ada Lovelace", record=True)
    # The words of the id must name nobody else: "Ada" keeps its own authorization of another application.
    ada, ada_client = mint_token_and_client(redis_url, scopes=["events:read"], user_id="Ada", record=True)
    bulk, _ = mint_token_and_client(redis_url, scopes=["events:read"], user_id="Grace B Hopper")
    for token in (spaced, ada, bulk):
        _warm(gateways, token)

    resp = requests.delete(
        f"{gateways[0].admin_url}/admin/users/{quote('Ada Lovelace')}/authorizations/{client_id}",
        headers=gateways[0].admin_headers,
        timeout=5,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["user_id"] == "Ada Lovelace"
    _refused_everywhere(gateways, spaced)
    assert [status_of(gw, ada) for gw in gateways] == [200, 200]

    resp = requests.post(
        f"{gateways[0].admin_url}/admin/revocations",
        json={"user_id": "Grace B Hopper"},
        headers=gateways[0].admin_headers,
        timeout=5,
    )
    assert resp.status_code == 200, resp.text
    _refused_everywhere(gateways, bulk)
    assert [status_of(gw, ada) for gw in gateways] == [200, 200]
    assert ada_client != client_id
