"""A user's Revoke on the Authorized Applications API of one process is honoured by every process within 100 ms,
even with their caches warmed by the token."""

from __future__ import annotations

import re
import time

import requests

from tests.e2e.harness import GatewayProcess
from tests.e2e.tokens import mint_token_and_client


def status_of(gw: GatewayProcess, token: str) -> int:
    return requests.get(gw.url + "/v1/events", headers={"Authorization": f"Bearer {token}"}, timeout=2).status_code


def log_in(gw: GatewayProcess) -> requests.Session:
    browser = requests.Session()
    form = browser.get(gw.url + "/oauth/login", params={"next": "/account/authorized-applications"}, timeout=5)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text
    done = browser.post(
        gw.url + "/oauth/login",
        timeout=5,
        data={
            "username": "demo",
            "password": "demo",
            "csrf": csrf.group(1),
            "next": "/account/authorized-applications",
        },
    )
    assert done.status_code == 200, done.text
    return browser


def test_user_revoke_on_authorized_applications_reaches_every_process(gateways, redis_url):
    token, client_id = mint_token_and_client(redis_url, scopes=["events:read"], user_id="1001", record=True)
    for gw in gateways:
        for _ in range(3):
            assert status_of(gw, token) == 200  # caches warm on both processes

    browser = log_in(gateways[0])
    listing = browser.get(
        gateways[0].url + "/account/authorized-applications", headers={"Accept": "application/json"}, timeout=5
    )
    assert listing.status_code == 200, listing.text
    body = listing.json()
    row = next(r for r in body["applications"] if r["client_id"] == client_id)
    assert row["scopes"] == ["events:read"]
    assert row["last_used"] is not None  # the warm-up calls were recorded as a use

    no_csrf = browser.post(f"{gateways[0].url}/account/authorized-applications/{client_id}/revoke", timeout=5)
    assert no_csrf.status_code == 403
    assert status_of(gateways[1], token) == 200

    revoked = browser.post(
        f"{gateways[0].url}/account/authorized-applications/{client_id}/revoke",
        headers={"X-CSRF-Token": body["csrf_token"]},
        timeout=5,
    )
    assert revoked.status_code == 200, revoked.text
    started = time.perf_counter()
    seen: dict[int, float] = {}
    while len(seen) < 2 and time.perf_counter() - started < 2.0:
        for i, gw in enumerate(gateways):
            if i not in seen and status_of(gw, token) == 401:
                seen[i] = time.perf_counter() - started
    print(f"\n[account revoke] 401 on each process after (ms): { {i: round(s * 1000, 2) for i, s in seen.items()} }")
    assert set(seen) == {0, 1}
    assert max(seen.values()) < 0.100
    after = browser.get(
        gateways[0].url + "/account/authorized-applications", headers={"Accept": "application/json"}, timeout=5
    )
    assert after.status_code == 200
    assert client_id not in [r["client_id"] for r in after.json()["applications"]]  # consent needed again
