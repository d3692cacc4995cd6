"""Grants, access and refresh tokens, refresh rotation, and the facts validation compares a token against
(TokenStore and the reads of TokenReader).

Revocation never scans: an access token points at its grant; a grant records the epochs (application, user+application,
user) it was issued under. Revoking bumps or deletes one key and publishes one message; validation compares.
"""

from __future__ import annotations

import asyncio
import time

from gateway.events import GrantRevoked, TokenRevoked
from gateway.models import AccessTokenRecord, AppState, Grant, RefreshTokenRecord
from gateway.store import codec, scripts
from gateway.store import keyspace as ks
from gateway.store.redis.client import (
    UNAVAILABLE,
    Connection,
    guarded,
    opt_int,
    opt_text,
    opt_texts,
    texts,
)
from gateway.store.redis.revocations import RedisRevocationBus


def _now() -> int:
    return int(time.time())


class RedisTokens:
    def __init__(self, conn: Connection, bus: RedisRevocationBus) -> None:
        self._r = conn.r
        self._gets = conn.gets
        self._bits = conn.scope_bits
        self._bus = bus
        self._rotate = conn.r.register_script(scripts.ROTATE_ONCE)

    # --- grants ---------------------------------------------------------------------------------------------

    @guarded
    async def current_epochs_for(self, user_id: str, client_id: str) -> tuple[int, int, int] | None:
        """(application, user+application, user) epochs now; None when the application is gone."""
        async with self._r.pipeline(transaction=False) as p:
            p.hget(ks.app(client_id), "epoch")
            p.mget([ks.user_app_epoch(user_id, client_id), ks.user_epoch(user_id)])
            ae, epochs = await p.execute()
        uae, ue = opt_texts(epochs)
        app_epoch = opt_int(ae)
        if app_epoch is None:
            return None
        return app_epoch, int(uae or 0), int(ue or 0)

    @guarded
    async def save_issued(
        self,
        grant: Grant,
        grant_ttl: int,
        access_hash: str,
        access: AccessTokenRecord,
        refresh: RefreshTokenRecord,
        *,
        new_grant: bool,
    ) -> None:
        """Write what one issuance produced in one MULTI: the grant (new, or its rotated refresh hash when it must
        still exist), the access token and the refresh token. A failure leaves none of them."""
        grant_key = ks.grant(grant.grant_id)
        grant_value = codec.grant_to_value(grant, self._bits)
        async with self._r.pipeline(transaction=True) as p:
            if new_grant:
                p.set(grant_key, grant_value, ex=grant_ttl)
                p.sadd(ks.app_grants(grant.client_id), grant.grant_id)
            else:
                p.set(grant_key, grant_value, ex=grant_ttl, xx=True)
            p.set(ks.access_token(access_hash), codec.access_to_value(access, self._bits),
                  ex=max(1, access.expires_at - _now()))
            p.set(ks.refresh_token(grant.refresh_hash), f"{refresh.grant_id}|{refresh.expires_at}",
                  ex=max(1, refresh.expires_at - _now()))
            await p.execute()

    @guarded
    async def save_grant(self, g: Grant, ttl_seconds: int) -> None:
        async with self._r.pipeline(transaction=False) as p:
            p.set(ks.grant(g.grant_id), codec.grant_to_value(g, self._bits), ex=ttl_seconds)
            p.sadd(ks.app_grants(g.client_id), g.grant_id)
            await p.execute()

    @guarded
    async def get_grant(self, grant_id: str) -> Grant | None:
        v = opt_text(await self._r.get(ks.grant(grant_id)))
        return codec.grant_from_value(grant_id, v, self._bits) if v else None

    @guarded
    async def revoke_grant(self, grant_id: str) -> bool:
        """End a grant: its refresh token and every access token issued under it (they point at it)."""
        v = opt_text(await self._r.get(ks.grant(grant_id)))
        if not v:
            return False
        g = codec.grant_from_value(grant_id, v, self._bits)
        async with self._r.pipeline(transaction=False) as p:
            p.delete(ks.grant(grant_id))
            if g.refresh_hash:
                p.delete(ks.refresh_token(g.refresh_hash))
            p.srem(ks.app_grants(g.client_id), grant_id)
            await p.execute()
        await self._bus.publish(GrantRevoked(grant_id))
        return True

    async def drop_app_grants(self, client_id: str, batch: int = 500) -> tuple[int, bool]:
        """Drop a deleted application's grants and their refresh tokens, a batch at a time, yielding between
        batches. Returns (grants removed, finished); not finished when the store became unavailable."""
        removed = 0
        key = ks.app_grants(client_id)
        while True:
            try:
                gids = texts(await self._r.spop(key, batch) or [])
                if not gids:
                    return removed, True
                values = await self._r.mget([ks.grant(g) for g in gids])
                async with self._r.pipeline(transaction=False) as p:
                    for gid, v in zip(gids, values, strict=True):
                        p.delete(ks.grant(gid))
                        value = opt_text(v)
                        if value:
                            rt = codec.grant_from_value(gid, value, self._bits).refresh_hash
                            if rt:
                                p.delete(ks.refresh_token(rt))
                    await p.execute()
            except UNAVAILABLE:
                return removed, False
            removed += len(gids)
            await asyncio.sleep(0)

    # --- access tokens --------------------------------------------------------------------------------------

    @guarded
    async def save_access_token(self, token_hash: str, rec: AccessTokenRecord) -> None:
        ttl = max(1, rec.expires_at - _now())
        await self._r.set(ks.access_token(token_hash), codec.access_to_value(rec, self._bits), ex=ttl)

    @guarded
    async def save_access_tokens(self, items: list[tuple[str, AccessTokenRecord]]) -> None:
        """Bulk insert (pipelined); used by tests and the benchmark to mint many tokens quickly."""
        async with self._r.pipeline(transaction=False) as p:
            for token_hash, rec in items:
                value = codec.access_to_value(rec, self._bits)
                p.set(ks.access_token(token_hash), value, ex=max(1, rec.expires_at - _now()))
            await p.execute()

    @guarded
    async def get_access_token(self, token_hash: str) -> AccessTokenRecord | None:
        v = await self._gets.get(ks.access_token(token_hash))
        return codec.access_from_value(v, self._bits) if v else None

    @guarded
    async def validation_facts(
        self, grant_id: str, client_id: str, user_id: str
    ) -> tuple[Grant | None, AppState | None, int, int]:
        """Everything validation compares a token against, in one round trip."""
        async with self._r.pipeline(transaction=False) as p:
            p.get(ks.grant(grant_id))
            p.hmget(ks.app(client_id), ["scopes", "epoch"])
            p.mget([ks.user_app_epoch(user_id, client_id), ks.user_epoch(user_id)])
            gv, app_fields, epochs = await p.execute()
        grant_value = opt_text(gv)
        scopes, epoch = opt_texts(app_fields)
        uae, ue = opt_texts(epochs)
        grant = codec.grant_from_value(grant_id, grant_value, self._bits) if grant_value else None
        state = AppState(frozenset(scopes.split()), int(epoch or 0)) if scopes is not None else None
        return grant, state, int(uae or 0), int(ue or 0)

    @guarded
    async def revoke_access_token(self, token_hash: str) -> bool:
        n = await self._r.delete(ks.access_token(token_hash))
        await self._bus.publish(TokenRevoked(token_hash))
        return bool(n)

    # --- refresh tokens -------------------------------------------------------------------------------------

    @guarded
    async def save_refresh_token(self, token_hash: str, rec: RefreshTokenRecord) -> None:
        ttl = max(1, rec.expires_at - _now())
        await self._r.set(ks.refresh_token(token_hash), f"{rec.grant_id}|{rec.expires_at}", ex=ttl)

    @guarded
    async def get_refresh_token(self, token_hash: str) -> RefreshTokenRecord | None:
        v = opt_text(await self._r.get(ks.refresh_token(token_hash)))
        if not v:
            return None
        gid, exp = v.split("|")
        return RefreshTokenRecord(grant_id=gid, expires_at=int(exp))

    @guarded
    async def consume_refresh_token(self, token_hash: str) -> tuple[RefreshTokenRecord | None, str | None]:
        """Atomically take a refresh token for rotation.

        Returns (record, None) the first time; (None, grant_id) when it was already rotated (reuse: the caller
        revokes that grant); (None, None) when it never existed or has expired.
        """
        v = opt_text(await self._r.get(ks.refresh_token(token_hash)))
        gid = v.split("|")[0] if v else ""
        taken = opt_text(await self._rotate(
            keys=[ks.refresh_token(token_hash), ks.refresh_used(token_hash)],
            args=[gid or "-", 30 * 86400],
        ))
        if taken:
            g, exp = taken.split("|")
            return RefreshTokenRecord(grant_id=g, expires_at=int(exp)), None
        used = opt_text(await self._r.get(ks.refresh_used(token_hash)))
        return None, (used if used and used != "-" else None)

