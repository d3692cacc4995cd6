"""Nothing grows forever, nothing is left behind: after every write path of the store has run, every key in Redis
belongs to a known family, and each family either carries a TTL or is removed with its owner; a deleted
application's clean-up is recorded with the delete and finished by any process, even after a crash."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import pytest

from gateway import applications
from gateway.errors import OAuthError
from gateway.events import TokenRevoked
from gateway.issuance import IssuedTokens, continue_grant, start_grant
from gateway.models import Authorization, PendingCode
from gateway.security import Hasher, TokenKind, mint
from gateway.services import build_services, start, stop
from gateway.store import keyspace as ks
from gateway.store.options import StoreOptions
from gateway.store.redis_store import RedisStore, connect
from tests.conftest import SECRET_KEY, make_settings

CATALOG = ["events:read", "events:write"]
HASHER = Hasher(SECRET_KEY.encode())
REFRESH_TTL = 120
OPTIONS = StoreOptions(refresh_ttl=REFRESH_TTL, audit_max_entries=100)

# Every key family the store writes: (pattern, how it is bounded). "ttl" = every key carries an expiry no longer
# than the bound; an owner = removed when that owner goes (named for the reader).
FAMILIES: list[tuple[str, str, int | None]] = [
    (r"sg:at:[^:]+", "ttl", 3600),
    (r"sg:rt:\{[^}]+\}", "ttl", REFRESH_TTL),
    (r"sg:rtu:\{[^}]+\}", "ttl", REFRESH_TTL),  # used-refresh markers live as long as a refresh token could
    (r"sg:code:\{[^}]+\}", "ttl", 60),
    (r"sg:codeu:\{[^}]+\}", "ttl", 600),
    (r"sg:grant:\{[^}]+\}:[^:]+", "ttl", REFRESH_TTL),
    (r"sg:epoch:ua:.+", "ttl", OPTIONS.epoch_ttl),  # outlives every grant that recorded an older value
    (r"sg:epoch:u:.+", "ttl", OPTIONS.epoch_ttl),
    (r"sg:tmp:.+", "ttl", 3600),
    (r"sg:cnt:.+", "ttl", 3600),
    (r"sg:app:\{[^}]+\}", "the application (DELETE)", None),
    (r"sg:app:\{[^}]+\}:secrets", "the application (DELETE)", None),
    (r"sg:app:\{[^}]+\}:grants", "the application (clean-up)", None),
    (r"sg:app:\{[^}]+\}:users", "the application (clean-up)", None),
    (r"sg:app:\{[^}]+\}:consents", "the application (clean-up)", None),
    (r"sg:authz:\{[^}]+\}", "the user's consents (revoke, application clean-up)", None),
    (r"sg:authz:\{[^}]+\}:lastused", "the user's consents (revoke, application clean-up)", None),
    (r"sg:apps", "registry: one member per live application", None),
    (r"sg:cleanup:apps", "queue: drained by the clean-up", None),
    (r"sg:audit", "stream trimmed to audit.max_entries", None),
    (r"sg:scopebits(:next)?", "the scope catalog", None),
]


def family(key: str) -> tuple[str, str, int | None]:
    for pattern, bound, limit in FAMILIES:
        if re.fullmatch(pattern, key):
            return pattern, bound, limit
    raise AssertionError(f"key {key!r} belongs to no known family: give it a TTL or an owner, and list it here")


@pytest.fixture(params=["fakeredis", "redis", "cluster"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RedisStore]:
    if request.param == "cluster":
        cluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        url = cluster.url
    else:
        url = "memory://" if request.param == "fakeredis" else request.getfixturevalue("redis_url")
    s = connect(url, options=OPTIONS)
    await s.init_scopes(CATALOG)
    yield s
    await s.close()


async def _app(store: RedisStore) -> str:
    reg = await applications.register(
        store, HASHER, CATALOG, {"name": "A", "redirect_uri": "https://a.example/cb", "owner": "u1"}
    )
    return reg.application.client_id


async def _consented_grant(store: RedisStore, cid: str, user: str) -> object:
    await store.record_authorization(Authorization(user, cid, ("events:read",), time.time()))
    return await start_grant(
        store,
        HASHER,
        client_id=cid,
        user_id=user,
        scopes=["events:read"],
        access_ttl=60,
        refresh_ttl=REFRESH_TTL,
        require_consent=True,
    )


async def test_every_key_has_a_ttl_or_an_owner(store: RedisStore) -> None:
    # Every write path, once at least.
    keep, gone = await _app(store), await _app(store)
    for cid in (keep, gone):
        for user in ("u1", "u2", "u3"):
            issued = await _consented_grant(store, cid, user)
        await store.touch_last_used("u1", cid, time.time())
    issued = await _consented_grant(store, keep, "u4")
    rec, _ = await store.consume_refresh_token(issued.grant.refresh_hash)  # type: ignore[attr-defined]
    assert rec is not None
    nxt = await continue_grant(
        store,
        HASHER,
        issued.grant,
        ["events:read"],
        access_ttl=60,  # type: ignore[attr-defined]
        refresh_ttl=REFRESH_TTL,
    )
    assert (await store.consume_refresh_token(issued.grant.refresh_hash))[1]  # type: ignore[attr-defined]
    await store.revoke_grant(nxt.grant.grant_id)
    await store.revoke_access_token(HASHER.hash(nxt.access_token))
    code = HASHER.hash(mint(TokenKind.CODE))
    await store.save_code(
        code, PendingCode(keep, "u1", "https://a.example/cb", ("events:read",), None, int(time.time()) + 60)
    )
    await store.redeem_code(code)
    await store.mark_code_grant(code, "g")
    await store.code_replay_grant(code)
    await store.revoke_user_app("u2", keep)
    await store.revoke_user("u3")
    await store.revoke_client(keep)
    await store.rotate_secret(keep, "h2", 60)
    await store.put_ephemeral("session", "s1", {"a": 1}, 600)
    await store.hit_counter("login", "1.2.3.4", 60)
    await store.publish(TokenRevoked("h"))
    for i in range(300):
        await store.append_audit({"action": "x", "n": i})
    assert await store.delete_app(gone)

    keys = sorted(await store._r.keys("*"))
    assert keys, "nothing written"
    for key in keys:
        _, bound, limit = family(key)
        ttl = int(await store._r.ttl(key))
        if bound == "ttl":
            assert 0 < ttl <= (limit or 0), (key, ttl, limit)
        else:
            assert ttl == -1, key  # owned keys are removed by their owner, not by time
    assert int(await store._r.xlen(ks.AUDIT)) < 300  # trimmed to about audit.max_entries (approximate)

    # The owner removes what it owns: after the clean-up, nothing of the deleted application is left but keys
    # that expire by themselves.
    assert await store.pending_cleanups() == [gone]
    await store.cleanup_app(gone)
    assert await store.pending_cleanups() == []
    for key in await store._r.keys("*"):
        if gone in key:
            assert family(key)[1] == "ttl", key
    for user in ("u1", "u2", "u3"):
        assert gone not in await store._r.hkeys(ks.authorizations(user))
        assert gone not in await store._r.hkeys(ks.last_used(user))


async def test_a_crashed_cleanup_is_finished_by_another_process(redis_url: str) -> None:
    """The queue entry is written with the delete: a process that dies before (or during) the clean-up leaves it,
    and any other process's maintenance finishes it."""
    first = connect(redis_url)
    await first.init_scopes(CATALOG)
    cid = await _app(first)
    for i in range(1200):  # more than one batch of 500
        await first.record_authorization(Authorization(f"u{i}", cid, ("events:read",), time.time()))
    for i in range(20):
        await start_grant(
            first,
            HASHER,
            client_id=cid,
            user_id=f"u{i}",
            scopes=["events:read"],
            access_ttl=60,
            refresh_ttl=REFRESH_TTL,
        )
    assert await first.delete_app(cid)
    # A crash mid-clean-up: one batch of grants done, then the process is gone.
    await first._r.spop(ks.app_grants(cid), 5)
    await first.close()

    services = build_services(make_settings({"redis_url": redis_url}))
    await start(services)
    try:
        for _ in range(500):
            if not await services.store.pending_cleanups():
                break
            await asyncio.sleep(0.01)
        assert await services.store.pending_cleanups() == []
    finally:
        await stop(services)
    probe = connect(redis_url)
    try:
        assert await probe._r.exists(ks.app_grants(cid), ks.client_users(cid)) == 0
        grants = await probe._r.keys("sg:grant:*")
        left = [k for k in grants if (await probe._r.get(k) or "").startswith(cid + "|")]
        assert len(left) == 5  # only those of the batch the crash interrupted, and they expire by TTL
        assert all(0 < ttl <= REFRESH_TTL for ttl in [int(await probe._r.ttl(k)) for k in left])
        assert await probe._r.hget(ks.authorizations("u1199"), cid) is None
    finally:
        await probe.close()


async def test_revoke_between_check_and_issuance_mints_nothing(store: RedisStore) -> None:
    """The token endpoint checks the consent, then issues: a revocation landing in between is seen by the issuing
    step itself (it checks the consent and reads the epochs atomically with its writes)."""
    cid = await _app(store)

    async def issue(scopes: list[str]) -> IssuedTokens:
        return await start_grant(
            store,
            HASHER,
            client_id=cid,
            user_id="u1",
            scopes=scopes,
            access_ttl=60,
            refresh_ttl=REFRESH_TTL,
            require_consent=True,
        )

    for revoke in (
        lambda: store.revoke_user_app("u1", cid),
        lambda: store.revoke_user("u1"),
        lambda: store.revoke_client(cid),
    ):
        await store.record_authorization(Authorization("u1", cid, ("events:read",), time.time() - 1))
        assert await store.get_authorization("u1", cid) is not None  # the endpoint's check passes ...
        await revoke()  # ... then the revocation lands ...
        with pytest.raises(OAuthError):  # ... and the issuing step refuses
            await issue(["events:read"])
    # A consent row that a bulk revocation has not removed yet does not authorize issuance either.
    await store.record_authorization(Authorization("u1", cid, ("events:read",), time.time() - 1))
    await store.revoke_client(cid)
    await store.record_authorization(Authorization("u1", cid, ("events:read",), time.time() - 5))
    with pytest.raises(OAuthError):
        await issue(["events:read"])
    # A consent given after it does, and a consent must cover the scopes asked for.
    await store.record_authorization(Authorization("u1", cid, ("events:read",), time.time() + 1))
    issued = await issue(["events:read"])
    with pytest.raises(OAuthError):
        await issue(["events:write"])
    # A refresh racing a revocation: the grant's epochs are stale, so nothing is written.
    await store.revoke_user("u1")
    with pytest.raises(OAuthError):
        await continue_grant(store, HASHER, issued.grant, ["events:read"], access_ttl=60, refresh_ttl=REFRESH_TTL)
    grant = await store.get_grant(issued.grant.grant_id)
    assert grant is not None and grant.refresh_hash == issued.grant.refresh_hash  # untouched
