"""The Redis adapter: the only module that imports redis. Maps connection failures to StoreUnavailable.

Revocation never scans: an access token points at its grant; a grant records the epochs (application, user+application,
user) it was issued under. Revoking bumps or deletes one key and publishes one message; validation compares.
The embedded `memory://` store runs this same code on fakeredis (see `gateway.store.factory`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from gateway import events
from gateway.errors import StoreUnavailable
from gateway.events import (
    ApplicationChanged,
    GrantRevoked,
    Revocation,
    TokenRevoked,
    UserApplicationRevoked,
    UserRevoked,
)
from gateway.models import (
    AccessTokenRecord,
    Application,
    AppState,
    Authorization,
    Grant,
    PendingCode,
    RefreshTokenRecord,
)
from gateway.store import codec, scripts
from gateway.store import keyspace as ks
from gateway.store.urls import parse_sentinel_url

log = logging.getLogger("scopegate.store")

_UNAVAILABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError, asyncio.TimeoutError)



P = ParamSpec("P")
R = TypeVar("R")


def _guarded(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Map Redis being unreachable or slow to StoreUnavailable (503, fail closed) in one place."""

    @functools.wraps(method)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable("token store unreachable") from exc

    return guarded





RevocationHandler = Callable[[str], None]
StateHandler = Callable[[bool], None]


def _now() -> int:
    return int(time.time())


class _GetBatcher:
    """Coalesce the GETs issued in one event-loop iteration into one MGET: one round trip and one redis-py call
    for all of them. redis-py's per-command overhead (pool checkout, retry wrapper, parser) costs more CPU than the
    rest of a proxied request's token check, and under load many lookups arrive together."""

    __slots__ = ("_futures", "_keys", "_max", "_r", "_tasks")

    def __init__(self, client: Any, max_batch: int = 256) -> None:
        self._r = client
        self._max = max_batch
        self._keys: list[str] = []
        self._futures: list[asyncio.Future[Any]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def get(self, key: str) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if not self._keys:
            loop.call_soon(self._flush)
        self._keys.append(key)
        self._futures.append(fut)
        if len(self._keys) >= self._max:
            self._flush()
        return fut

    def _flush(self) -> None:
        if not self._keys:
            return
        keys, futures = self._keys, self._futures
        self._keys, self._futures = [], []
        task = asyncio.ensure_future(self._send(keys, futures))
        self._tasks.add(task)  # referenced until done, so it is not collected mid-flight
        task.add_done_callback(self._tasks.discard)

    async def _send(self, keys: list[str], futures: list[asyncio.Future[Any]]) -> None:
        try:
            values = await self._r.mget(keys)
        except BaseException as exc:
            for fut in futures:
                if not fut.done():  # a caller that gave up (cancelled) needs nothing
                    fut.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for fut, value in zip(futures, values, strict=True):
            if not fut.done():
                fut.set_result(value)


class RedisStore:
    """Token store, application registry, revocation epochs, pub/sub and audit on one Redis."""

    def __init__(self, client: aioredis.Redis, *, embedded: bool = False, also_close: tuple[Any, ...] = ()) -> None:
        # decode_responses=True: every reply is str. redis-py types replies as bytes | str, so the client is
        # handled as the untyped wire it is, and this module converts at the boundary.
        self._r: Any = client
        self._gets = _GetBatcher(client)
        self._also_close = also_close  # e.g. the Sentinel connections that found the master
        self.embedded = embedded
        self.scope_bits = codec.ScopeBits()
        self._redeem = client.register_script(scripts.REDEEM_ONCE)
        self._rotate = client.register_script(scripts.ROTATE_ONCE)
        self._flag_replay = client.register_script(scripts.FLAG_REPLAY)
        self._record_code_grant = client.register_script(scripts.RECORD_CODE_GRANT)
        self._bump_app_epoch = client.register_script(scripts.BUMP_APP_EPOCH)

    # --- lifecycle ------------------------------------------------------------------------------------------

    async def close(self) -> None:
        await self._r.aclose()
        for extra in self._also_close:
            await extra.aclose()

    @_guarded
    async def ping(self) -> float:
        """One round trip; returns its latency in seconds."""
        started = time.perf_counter()
        await self._r.ping()
        return time.perf_counter() - started

    @_guarded
    async def init_scopes(self, catalog: Iterable[str]) -> None:
        """Give every scope a stable bit, shared by every process, so a token stores scopes in a few bytes."""
        known = await self._r.hgetall(ks.SCOPE_BITS)
        for name in catalog:
            if name not in known:
                bit = int(await self._r.incr(ks.SCOPE_BITS_NEXT)) - 1
                await self._r.hsetnx(ks.SCOPE_BITS, name, bit)
        self.scope_bits.load(await self._r.hgetall(ks.SCOPE_BITS))

    # --- applications ---------------------------------------------------------------------------------------

    @_guarded
    async def create_app(self, app: Application, secret_hash: str) -> None:
        async with self._r.pipeline(transaction=True) as p:
            p.hset(ks.app(app.client_id), mapping={**codec.app_to_fields(app), "epoch": "0"})
            p.hset(ks.app_secrets(app.client_id), secret_hash, "0")
            p.sadd(ks.APPS, app.client_id)
            await p.execute()

    @_guarded
    async def get_app(self, client_id: str) -> Application | None:
        h = await self._r.hgetall(ks.app(client_id))
        return codec.app_from_fields(client_id, h) if h else None

    @_guarded
    async def list_apps(self, owner: str | None = None) -> list[Application]:
        ids = sorted(await self._r.smembers(ks.APPS))
        async with self._r.pipeline(transaction=False) as p:
            for cid in ids:
                p.hgetall(ks.app(cid))
            rows = await p.execute()
        apps = [codec.app_from_fields(cid, h) for cid, h in zip(ids, rows, strict=True) if h]
        apps.sort(key=lambda a: a.created_at)
        return [a for a in apps if owner is None or a.owner == owner]

    @_guarded
    async def update_app(self, app: Application) -> bool:
        """Overwrite the editable fields; False when the application no longer exists. Publishes a change."""
        key = ks.app(app.client_id)
        async with self._r.pipeline(transaction=True) as p:
            p.exists(key)
            p.hset(key, mapping=codec.app_to_fields(app))
            exists, _ = await p.execute()
        if not exists:
            await self._r.delete(key)
            return False
        await self._publish(ApplicationChanged(app.client_id))
        return True

    @_guarded
    async def delete_app(self, client_id: str) -> bool:
        """Remove the application in one atomic step; every token it had fails validation from then on."""
        async with self._r.pipeline(transaction=True) as p:
            p.delete(ks.app(client_id))
            p.delete(ks.app_secrets(client_id))
            p.srem(ks.APPS, client_id)
            deleted, *_ = await p.execute()
        if deleted:
            await self._publish(ApplicationChanged(client_id))
        return bool(deleted)

    @_guarded
    async def app_state(self, client_id: str) -> AppState | None:
        scopes, epoch = await self._r.hmget(ks.app(client_id), ["scopes", "epoch"])
        if scopes is None:
            return None
        return AppState(scopes=frozenset(scopes.split()), epoch=int(epoch or 0))

    @_guarded
    async def secret_hashes(self, client_id: str) -> list[str]:
        """Hashes of the secrets that authenticate this client now (the current one and any in grace)."""
        rows = await self._r.hgetall(ks.app_secrets(client_id))
        now = time.time()
        return [h for h, until in rows.items() if float(until) == 0 or float(until) > now]

    @_guarded
    async def rotate_secret(self, client_id: str, new_hash: str, grace_seconds: float) -> bool:
        key = ks.app_secrets(client_id)
        if not await self._r.exists(ks.app(client_id)):
            return False
        old = await self._r.hgetall(key)
        until = time.time() + grace_seconds
        async with self._r.pipeline(transaction=True) as p:
            for h, current in old.items():
                if grace_seconds <= 0:
                    p.hdel(key, h)
                elif float(current) == 0 or float(current) > until:
                    p.hset(key, h, repr(until))
            p.hset(key, new_hash, "0")
            await p.execute()
        return True

    @_guarded
    async def current_epochs_for(self, user_id: str, client_id: str) -> tuple[int, int, int] | None:
        """(application, user+application, user) epochs now; None when the application is gone."""
        async with self._r.pipeline(transaction=False) as p:
            p.hget(ks.app(client_id), "epoch")
            p.mget([ks.user_app_epoch(user_id, client_id), ks.user_epoch(user_id)])
            ae, (uae, ue) = await p.execute()
        if ae is None:
            return None
        return int(ae), int(uae or 0), int(ue or 0)

    @_guarded
    async def save_grant(self, g: Grant, ttl_seconds: int) -> None:
        async with self._r.pipeline(transaction=False) as p:
            p.set(ks.grant(g.grant_id), codec.grant_to_value(g, self.scope_bits), ex=ttl_seconds)
            p.sadd(ks.app_grants(g.client_id), g.grant_id)
            await p.execute()

    @_guarded
    async def get_grant(self, grant_id: str) -> Grant | None:
        v = await self._r.get(ks.grant(grant_id))
        return codec.grant_from_value(grant_id, v, self.scope_bits) if v else None

    @_guarded
    async def revoke_grant(self, grant_id: str) -> bool:
        """End a grant: its refresh token and every access token issued under it (they point at it)."""
        v = await self._r.get(ks.grant(grant_id))
        if not v:
            return False
        g = codec.grant_from_value(grant_id, v, self.scope_bits)
        async with self._r.pipeline(transaction=False) as p:
            p.delete(ks.grant(grant_id))
            if g.refresh_hash:
                p.delete(ks.refresh_token(g.refresh_hash))
            p.srem(ks.app_grants(g.client_id), grant_id)
            await p.execute()
        await self._publish(GrantRevoked(grant_id))
        return True

    @_guarded
    async def save_access_token(self, token_hash: str, rec: AccessTokenRecord) -> None:
        ttl = max(1, rec.expires_at - _now())
        await self._r.set(ks.access_token(token_hash), codec.access_to_value(rec, self.scope_bits), ex=ttl)

    @_guarded
    async def save_access_tokens(self, items: list[tuple[str, AccessTokenRecord]]) -> None:
        """Bulk insert (pipelined); used by tests and the benchmark to mint many tokens quickly."""
        async with self._r.pipeline(transaction=False) as p:
            for token_hash, rec in items:
                value = codec.access_to_value(rec, self.scope_bits)
                p.set(ks.access_token(token_hash), value, ex=max(1, rec.expires_at - _now()))
            await p.execute()

    @_guarded
    async def get_access_token(self, token_hash: str) -> AccessTokenRecord | None:
        v = await self._gets.get(ks.access_token(token_hash))
        return codec.access_from_value(v, self.scope_bits) if v else None

    @_guarded
    async def validation_facts(
        self, grant_id: str, client_id: str, user_id: str
    ) -> tuple[Grant | None, AppState | None, int, int]:
        """Everything validation compares a token against, in one round trip."""
        async with self._r.pipeline(transaction=False) as p:
            p.get(ks.grant(grant_id))
            p.hmget(ks.app(client_id), ["scopes", "epoch"])
            p.mget([ks.user_app_epoch(user_id, client_id), ks.user_epoch(user_id)])
            gv, (scopes, epoch), (uae, ue) = await p.execute()
        grant = codec.grant_from_value(grant_id, gv, self.scope_bits) if gv else None
        state = AppState(frozenset(scopes.split()), int(epoch or 0)) if scopes is not None else None
        return grant, state, int(uae or 0), int(ue or 0)

    @_guarded
    async def revoke_access_token(self, token_hash: str) -> bool:
        n = await self._r.delete(ks.access_token(token_hash))
        await self._publish(TokenRevoked(token_hash))
        return bool(n)

    @_guarded
    async def save_refresh_token(self, token_hash: str, rec: RefreshTokenRecord) -> None:
        ttl = max(1, rec.expires_at - _now())
        await self._r.set(ks.refresh_token(token_hash), f"{rec.grant_id}|{rec.expires_at}", ex=ttl)

    @_guarded
    async def get_refresh_token(self, token_hash: str) -> RefreshTokenRecord | None:
        v = await self._r.get(ks.refresh_token(token_hash))
        if not v:
            return None
        gid, exp = v.split("|")
        return RefreshTokenRecord(grant_id=gid, expires_at=int(exp))

    @_guarded
    async def consume_refresh_token(self, token_hash: str) -> tuple[RefreshTokenRecord | None, str | None]:
        """Atomically take a refresh token for rotation.

        Returns (record, None) the first time; (None, grant_id) when it was already rotated (reuse: the caller
        revokes that grant); (None, None) when it never existed or has expired.
        """
        v = await self._r.get(ks.refresh_token(token_hash))
        gid = v.split("|")[0] if v else ""
        taken = await self._rotate(
            keys=[ks.refresh_token(token_hash), ks.refresh_used(token_hash)],
            args=[gid or "-", 30 * 86400],
        )
        if taken:
            g, exp = str(taken).split("|")
            return RefreshTokenRecord(grant_id=g, expires_at=int(exp)), None
        used = await self._r.get(ks.refresh_used(token_hash))
        return None, (used if used and used != "-" else None)

    @_guarded
    async def set_grant_refresh(self, g: Grant, refresh_hash: str, ttl_seconds: int) -> Grant:
        updated = dataclasses.replace(g, refresh_hash=refresh_hash)
        await self._r.set(ks.grant(g.grant_id), codec.grant_to_value(updated, self.scope_bits), ex=ttl_seconds, xx=True)
        return updated

    # --- authorization codes --------------------------------------------------------------------------------

    @_guarded
    async def save_code(self, code_hash: str, pending: PendingCode) -> None:
        ttl = max(1, pending.expires_at - _now())
        await self._r.set(ks.code(code_hash), codec.code_to_json(pending), ex=ttl)

    @_guarded
    async def redeem_code(self, code_hash: str) -> PendingCode | None:
        """Take a code exactly once (atomic); None if unknown, expired or already redeemed."""
        raw = await self._redeem(keys=[ks.code(code_hash), ks.code_used(code_hash)], args=[600])
        return codec.code_from_json(raw) if raw else None

    @_guarded
    async def mark_code_grant(self, code_hash: str, grant_id: str) -> bool:
        """Remember which grant a redeemed code produced, so a replay can revoke it. False when a replay was
        seen while this redemption was minting: the caller must revoke the grant it just made."""
        return bool(await self._record_code_grant(keys=[ks.code_used(code_hash)], args=[grant_id, 600]))

    @_guarded
    async def code_replay_grant(self, code_hash: str) -> str | None:
        """For a code that was already redeemed: the grant it produced; '' while that redemption is still
        minting (the code is then flagged, and that redemption withdraws its tokens); None if never redeemed."""
        v = await self._flag_replay(keys=[ks.code_used(code_hash)])
        if v is None or v == "!replayed":
            return None if v is None else ""
        return str(v)

    # --- authorizations (Authorized Applications) -----------------------------------------------------------

    @_guarded
    async def record_authorization(self, auth: Authorization) -> None:
        value = json.dumps({"scopes": list(auth.scopes), "authorized_at": auth.authorized_at})
        async with self._r.pipeline(transaction=False) as p:
            p.hset(ks.authorizations(auth.user_id), auth.client_id, value)
            p.sadd(ks.client_users(auth.client_id), auth.user_id)
            await p.execute()

    @_guarded
    async def list_authorizations(self, user_id: str) -> list[Authorization]:
        async with self._r.pipeline(transaction=False) as p:
            p.hgetall(ks.authorizations(user_id))
            p.hgetall(ks.last_used(user_id))
            rows, used = await p.execute()
        out = []
        for cid, raw in rows.items():
            d = json.loads(raw)
            lu = used.get(cid)
            out.append(
                Authorization(user_id, cid, tuple(d["scopes"]), float(d["authorized_at"]), float(lu) if lu else None)
            )
        out.sort(key=lambda a: a.authorized_at)
        return out

    @_guarded
    async def get_authorization(self, user_id: str, client_id: str) -> Authorization | None:
        raw = await self._r.hget(ks.authorizations(user_id), client_id)
        if not raw:
            return None
        d = json.loads(raw)
        return Authorization(user_id, client_id, tuple(d["scopes"]), float(d["authorized_at"]))

    async def touch_last_used(self, user_id: str, client_id: str, ts: float) -> None:
        try:
            await self._r.hset(ks.last_used(user_id), client_id, repr(ts))
        except _UNAVAILABLE:
            log.warning("could not record last use (store unavailable)")

    @_guarded
    async def revoke_user_app(self, user_id: str, client_id: str) -> bool:
        """Invalidate every token of this application for this user (one epoch bump) and forget the consent."""
        async with self._r.pipeline(transaction=True) as p:
            p.incr(ks.user_app_epoch(user_id, client_id))
            p.hdel(ks.authorizations(user_id), client_id)
            p.hdel(ks.last_used(user_id), client_id)
            p.srem(ks.client_users(client_id), user_id)
            _, removed, *_ = await p.execute()
        await self._publish(UserApplicationRevoked(user_id, client_id))
        return bool(removed)

    @_guarded
    async def revoke_user(self, user_id: str) -> int:
        """Invalidate every token of this user, whatever the application (one epoch bump)."""
        cids = await self._r.hkeys(ks.authorizations(user_id))
        async with self._r.pipeline(transaction=True) as p:
            p.incr(ks.user_epoch(user_id))
            p.delete(ks.authorizations(user_id))
            p.delete(ks.last_used(user_id))
            for cid in cids:
                p.srem(ks.client_users(cid), user_id)
            await p.execute()
        await self._publish(UserRevoked(user_id))
        return len(cids)

    @_guarded
    async def revoke_client(self, client_id: str) -> int:
        """Invalidate every token of this application, for every user (one epoch bump); the app stays.
        Returns how many users' Authorized Applications rows were removed."""
        if await self._bump_app_epoch(keys=[ks.app(client_id)]) is None:
            return 0
        await self._publish(ApplicationChanged(client_id))  # tokens are dead from here; the rows below are bookkeeping
        return await self.revoke_client_rows(client_id)

    @_guarded
    async def revoke_client_rows(self, client_id: str, batch: int = 500) -> int:
        """Drop the application's row from its users' Authorized Applications, a batch at a time: an application
        with 100,000 users never becomes one huge pipeline that stalls this process and Redis."""
        removed = 0
        key = ks.client_users(client_id)
        while users := await self._r.spop(key, batch):
            async with self._r.pipeline(transaction=False) as p:
                for uid in users:
                    p.hdel(ks.authorizations(uid), client_id)
                    p.hdel(ks.last_used(uid), client_id)
                await p.execute()
            removed += len(users)
            await asyncio.sleep(0)
        return removed

    async def cleanup_app(self, client_id: str, batch: int = 500) -> int:
        """Background clean-up after deletion: drop the app's grants and refresh tokens in small batches.

        Access tokens of a deleted application are already dead (validation finds no application) and expire by
        TTL; this only reclaims memory, so it yields between batches and never blocks the event loop.
        """
        removed = 0
        key = ks.app_grants(client_id)
        while True:
            try:
                gids = await self._r.spop(key, batch)
                if not gids:
                    break
                values = await self._r.mget([ks.grant(g) for g in gids])
                async with self._r.pipeline(transaction=False) as p:
                    for gid, v in zip(gids, values, strict=True):
                        p.delete(ks.grant(gid))
                        if v:
                            rt = codec.grant_from_value(gid, v, self.scope_bits).refresh_hash
                            if rt:
                                p.delete(ks.refresh_token(rt))
                    await p.execute()
            except _UNAVAILABLE:
                log.warning("clean-up of %s paused: store unavailable", client_id)
                return removed
            removed += len(gids)
            await asyncio.sleep(0)
        await self.revoke_client_rows(client_id)
        return removed

    # --- ephemeral records and counters (sessions, pending consent, throttling) -----------------------------

    @_guarded
    async def put_ephemeral(self, namespace: str, key: str, value: dict[str, Any], ttl_seconds: int) -> None:
        await self._r.set(ks.ephemeral(namespace, key), json.dumps(value), ex=ttl_seconds)

    @_guarded
    async def get_ephemeral(self, namespace: str, key: str) -> dict[str, Any] | None:
        raw = await self._r.get(ks.ephemeral(namespace, key))
        return json.loads(raw) if raw else None

    @_guarded
    async def take_ephemeral(self, namespace: str, key: str) -> dict[str, Any] | None:
        """Read and delete atomically (single use)."""
        raw = await self._r.getdel(ks.ephemeral(namespace, key))
        return json.loads(raw) if raw else None

    @_guarded
    async def delete_ephemeral(self, namespace: str, key: str) -> None:
        await self._r.delete(ks.ephemeral(namespace, key))

    @_guarded
    async def hit_counter(self, namespace: str, key: str, window_seconds: int) -> int:
        """Increment a fixed-window counter; returns the count in the current window."""
        k = ks.counter(namespace, key)
        async with self._r.pipeline(transaction=True) as p:
            p.incr(k)
            p.expire(k, window_seconds, nx=True)
            n, _ = await p.execute()
        return int(n)

    @_guarded
    async def counter_value(self, namespace: str, key: str) -> tuple[int, int]:
        """(count, seconds until the window resets)."""
        k = ks.counter(namespace, key)
        async with self._r.pipeline(transaction=False) as p:
            p.get(k)
            p.ttl(k)
            n, ttl = await p.execute()
        return int(n or 0), max(int(ttl), 0)

    @_guarded
    async def reset_counter(self, namespace: str, key: str) -> None:
        await self._r.delete(ks.counter(namespace, key))

    # --- audit ----------------------------------------------------------------------------------------------

    @_guarded
    async def append_audit(self, event: dict[str, Any]) -> str:
        fields = {"ts": repr(time.time()), **{k: json.dumps(v) for k, v in event.items()}}
        return str(await self._r.xadd(ks.AUDIT, fields))

    @_guarded
    async def read_audit(self, count: int = 100, before: str | None = None) -> list[dict[str, Any]]:
        rows = await self._r.xrevrange(ks.AUDIT, max=f"({before}" if before else "+", min="-", count=count)
        out: list[dict[str, Any]] = []
        for entry_id, fields in rows:
            item: dict[str, Any] = {"id": entry_id, "ts": float(fields.pop("ts"))}
            item.update({k: json.loads(v) for k, v in fields.items()})
            out.append(item)
        return out

    # --- pub/sub --------------------------------------------------------------------------------------------

    async def _publish(self, event: Revocation) -> None:
        # The publish time travels with the event so every subscriber can measure propagation delay.
        await self._r.publish(ks.REVOCATION_CHANNEL, events.encode(event, time.time()))

    async def listen_revocations(
        self,
        on_message: RevocationHandler,
        on_state: StateHandler,
        *,
        ping_interval: float = 1.0,
    ) -> None:
        """Run forever: deliver revocation messages; report subscribed/unsubscribed so caches can stop trusting."""
        backoff = 0.05
        while True:
            pubsub = self._r.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(ks.REVOCATION_CHANNEL)
                on_state(True)
                backoff = 0.05
                last_ping = time.monotonic()
                while True:
                    msg = await pubsub.get_message(timeout=ping_interval)
                    if msg is not None and msg.get("type") == "message":
                        on_message(str(msg["data"]))
                    if time.monotonic() - last_ping >= ping_interval:
                        # A dead connection can look idle; a ping proves the subscription is still there.
                        await asyncio.wait_for(pubsub.ping(), timeout=max(ping_interval, 0.5))
                        last_ping = time.monotonic()
            except asyncio.CancelledError:
                on_state(False)
                await _quiet_close(pubsub)
                raise
            except (*_UNAVAILABLE, redis_errors.RedisError) as exc:
                on_state(False)
                log.warning("revocation subscription lost (%s); caches bypassed until resubscribed", type(exc).__name__)
                await _quiet_close(pubsub)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)


async def _quiet_close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception:
        log.debug("pubsub close failed", exc_info=True)


def connect(redis_url: str, *, timeout: float = 0.5, max_connections: int = 64) -> RedisStore:
    """A store for `redis_url`: redis://, rediss://, unix://, redis+sentinel://, or memory:// (embedded)."""
    if redis_url.startswith("memory://"):
        # Only here is fakeredis imported: the embedded mode for the quick start and fast unit tests.
        import fakeredis

        return RedisStore(fakeredis.FakeAsyncRedis(decode_responses=True), embedded=True)
    if redis_url.startswith("redis+sentinel://"):
        # Sentinel finds the current master and follows failovers; the store code is the same.
        from redis.asyncio.sentinel import Sentinel

        hosts, service, db, password = parse_sentinel_url(redis_url)
        sentinel = Sentinel(hosts, socket_timeout=timeout, socket_connect_timeout=timeout)  # type: ignore[no-untyped-call]
        master = sentinel.master_for(
            service,
            db=db,
            password=password,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            max_connections=max_connections,
            retry_on_timeout=False,
        )
        return RedisStore(master, also_close=tuple(sentinel.sentinels))
    client = aioredis.Redis.from_url(
        redis_url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        max_connections=max_connections,
        retry_on_timeout=False,
    )
    return RedisStore(client)
