"""Consents (Authorized Applications), their last use, and revocation by user, application or both
(UserAuthorizations)."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from gateway.errors import StoreUnavailable
from gateway.events import ApplicationChanged, UserApplicationRevoked, UserRevoked
from gateway.models import Authorization
from gateway.store import keyspace as ks
from gateway.store import scripts
from gateway.store.redis.client import Connection, guarded, integer, opt_text, text_map, texts
from gateway.store.redis.revocations import RedisRevocationBus

log = logging.getLogger("scopegate.store")


class RedisUserAuthorizations:
    def __init__(self, conn: Connection, bus: RedisRevocationBus) -> None:
        self._conn = conn
        self._r = conn.r
        self._bus = bus
        self._bump_app_epoch = conn.r.register_script(scripts.BUMP_APP_EPOCH)
        self._revoke_user_app = conn.r.register_script(scripts.REVOKE_USER_APP)
        self._revoke_user = conn.r.register_script(scripts.REVOKE_USER)

    @guarded
    async def record_authorization(self, auth: Authorization) -> None:
        """The user's Authorized Applications index first, then the consent issuance checks (the application's
        slot): revocation removes them in the opposite order, so the index always names every consent that could
        authorize issuance (user revocation walks it)."""
        value = json.dumps({"scopes": list(auth.scopes), "authorized_at": auth.authorized_at})
        await self._r.hset(ks.authorizations(auth.user_id), auth.client_id, value)
        async with self._r.pipeline(transaction=True) as p:
            p.hset(ks.app_consents(auth.client_id), auth.user_id, value)
            p.sadd(ks.client_users(auth.client_id), auth.user_id)
            await p.execute()

    @guarded
    async def list_authorizations(self, user_id: str) -> list[Authorization]:
        async with self._r.pipeline(transaction=False) as p:
            p.hgetall(ks.authorizations(user_id))
            p.hgetall(ks.last_used(user_id))
            rows_reply, used_reply = await p.execute()
        rows, used = text_map(rows_reply), text_map(used_reply)
        out = []
        for cid, raw in rows.items():
            d = json.loads(raw)
            lu = used.get(cid)
            out.append(
                Authorization(user_id, cid, tuple(d["scopes"]), float(d["authorized_at"]), float(lu) if lu else None)
            )
        out.sort(key=lambda a: a.authorized_at)
        return out

    @guarded
    async def get_authorization(self, user_id: str, client_id: str) -> Authorization | None:
        raw = opt_text(await self._r.hget(ks.app_consents(client_id), user_id))
        if not raw:
            return None
        d = json.loads(raw)
        return Authorization(user_id, client_id, tuple(d["scopes"]), float(d["authorized_at"]))

    async def touch_last_used(self, user_id: str, client_id: str, ts: float) -> None:
        """Best effort: a last-used time that could not be written is logged, never an error."""
        try:
            await self._touch(user_id, client_id, ts)
        except StoreUnavailable:
            log.warning("could not record last use (store unavailable)")

    @guarded
    async def _touch(self, user_id: str, client_id: str, ts: float) -> None:
        await self._r.hset(ks.last_used(user_id), client_id, repr(ts))

    @guarded
    async def revoke_user_app(self, user_id: str, client_id: str) -> bool:
        """Invalidate every token of this application for this user (one epoch bump) and forget the consent: one
        script in the application's slot with its announcement, confirmed by the required replicas; then the row of
        the user's Authorized Applications index."""
        removed = await self._revoke_consent(user_id, client_id, announce=True)
        async with self._r.pipeline(transaction=False) as p:
            p.hdel(ks.authorizations(user_id), client_id)
            p.hdel(ks.last_used(user_id), client_id)
            listed, _ = await p.execute()
        return bool(removed or integer(listed))

    async def _revoke_consent(self, user_id: str, client_id: str, *, announce: bool) -> int:
        channel, message = self._bus.announcement(UserApplicationRevoked(user_id, client_id)) if announce else ("", "")
        return integer(
            await self._conn.durable(
                self._revoke_user_app,
                [ks.user_app_epoch(user_id, client_id), ks.app_consents(client_id), ks.client_users(client_id)],
                [user_id, channel, message, self._conn.options.epoch_ttl],
            )
        )

    @guarded
    async def revoke_user(self, user_id: str) -> int:
        """Invalidate every token of this user, whatever the application: first each application's consent and
        user+application epoch (each in its application's slot, so an issuance racing this is refused there),
        then the user epoch and the Authorized Applications index in one script with the announcement; every step
        confirmed by the required replicas. Run again, it revokes again."""
        for cid in texts(await self._r.hkeys(ks.authorizations(user_id))):
            # Each step announces itself: a crash before the last one leaves no unannounced change behind.
            await self._revoke_consent(user_id, cid, announce=True)
        n = await self._conn.durable(
            self._revoke_user,
            [ks.user_epoch(user_id), ks.authorizations(user_id), ks.last_used(user_id)],
            [*self._bus.announcement(UserRevoked(user_id)), self._conn.options.epoch_ttl],
        )
        return integer(n)

    @guarded
    async def revoke_client(self, client_id: str) -> int:
        """Invalidate every token of this application, for every user (one epoch bump, announced in the same
        script, confirmed by the required replicas); the app stays, and consents older than this no longer
        authorize issuance. Returns how many users' Authorized Applications rows were removed."""
        bumped = await self._conn.durable(
            self._bump_app_epoch,
            [ks.app(client_id)],
            [*self._bus.announcement(ApplicationChanged(client_id)), repr(time.time())],
        )
        if bumped is None:
            return 0
        # tokens are dead from here; the rows below are bookkeeping
        return await self.revoke_client_rows(client_id)

    @guarded
    async def revoke_client_rows(self, client_id: str, batch: int = 500) -> int:
        """Drop the application's row from its users' Authorized Applications, a batch at a time: an application
        with 100,000 users never becomes one huge pipeline that stalls this process and Redis."""
        removed = 0
        key = ks.client_users(client_id)
        while users := texts(await self._r.spop(key, batch) or []):
            async with self._r.pipeline(transaction=False) as p:
                p.hdel(ks.app_consents(client_id), *users)
                for uid in users:
                    p.hdel(ks.authorizations(uid), client_id)
                    p.hdel(ks.last_used(uid), client_id)
                await p.execute()
            removed += len(users)
            await asyncio.sleep(0)
        return removed
