"""Grants, access and refresh tokens, refresh rotation, and the facts validation compares a token against
(TokenStore and the reads of TokenReader).

Revocation never scans: an access token points at its grant; a grant records the epochs (application, user+application,
user) it was issued under. Revoking bumps or deletes one key and publishes one message; validation compares.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from gateway.events import GrantRevoked, TokenRevoked
from gateway.models import AccessTokenRecord, AppState, Grant, IssueRefused, RefreshTokenRecord
from gateway.store import codec, scripts
from gateway.store import keyspace as ks
from gateway.store.redis.client import (
    UNAVAILABLE,
    Connection,
    NotAcknowledged,
    guarded,
    integer,
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
        self._conn = conn
        self._r = conn.r
        self._reads = conn.reads
        self._gets = conn.gets
        self._bits = conn.scope_bits
        self._bus = bus
        self._rotate = conn.r.register_script(scripts.ROTATE_ONCE)
        self._undo_take = conn.r.register_script(scripts.UNDO_TAKE)
        self._start_grant = conn.r.register_script(scripts.START_GRANT)
        self._continue_grant = conn.r.register_script(scripts.CONTINUE_GRANT)
        self._revoke_grant = conn.r.register_script(scripts.REVOKE_GRANT)
        self._revoke_access = conn.r.register_script(scripts.REVOKE_ACCESS)

    def _epoch_ttl(self, grant_ttl: int) -> int:
        return max(self._conn.options.epoch_ttl, grant_ttl + 3600)

    # --- grants ---------------------------------------------------------------------------------------------

    @guarded
    async def current_epochs_for(self, user_id: str, client_id: str) -> tuple[int, int, int] | None:
        """(application, user+application, user) epochs now; None when the application is gone."""
        async with self._r.pipeline(transaction=False) as p:
            p.hget(ks.app(client_id), "epoch")
            p.get(ks.user_app_epoch(user_id, client_id))
            p.get(ks.user_epoch(user_id))
            ae, uae, ue = await p.execute()
        app_epoch = opt_int(ae)
        if app_epoch is None:
            return None
        return app_epoch, int(opt_text(uae) or 0), int(opt_text(ue) or 0)

    async def _write_tokens(
        self, grant: Grant, grant_ttl: int, access_hash: str, access: AccessTokenRecord, refresh: RefreshTokenRecord
    ) -> None:
        """The tokens of a grant just written: they point at it, so they are written after it (their own slots)."""
        async with self._r.pipeline(transaction=False) as p:
            p.set(
                ks.access_token(access_hash),
                codec.access_to_value(access, self._bits),
                ex=max(1, access.expires_at - _now()),
            )
            p.set(
                ks.refresh_token(grant.refresh_hash),
                f"{refresh.grant_id}|{refresh.expires_at}",
                ex=max(1, refresh.expires_at - _now()),
            )
            if grant.user_epoch:
                # The user epoch this grant recorded outlives it (the grant's own slot step cannot extend it).
                p.expire(ks.user_epoch(grant.user_id), self._epoch_ttl(grant_ttl))
            await p.execute()

    @guarded
    async def start_issued(
        self,
        grant: Grant,
        grant_ttl: int,
        access_hash: str,
        access: AccessTokenRecord,
        refresh: RefreshTokenRecord,
        *,
        require_consent: bool,
    ) -> Grant | IssueRefused:
        """A new grant in one script that also checks the authorization (the application exists; with
        `require_consent`, the user's consent covers the scopes and is newer than the application's last bulk
        revocation) and reads the epochs the grant records; then its tokens, which point at it. `grant`'s epochs
        are ignored; the grant written (with the epochs read) is returned."""
        user_epoch = int(opt_text(await self._r.get(ks.user_epoch(grant.user_id))) or 0)
        tail = "|" + "|".join(
            (str(grant.created_at), self._bits.encode(grant.scopes), grant.refresh_hash, grant.user_id)
        )
        reply = await self._start_grant(
            keys=[
                ks.app(grant.client_id),
                ks.app_consents(grant.client_id),
                ks.user_app_epoch(grant.user_id, grant.client_id),
                ks.grant(grant.grant_id),
                ks.app_grants(grant.client_id),
            ],
            args=[
                grant.user_id,
                grant.grant_id,
                grant.client_id,
                tail,
                grant_ttl,
                user_epoch,
                self._epoch_ttl(grant_ttl),
                "1" if require_consent else "0",
                *sorted(grant.scopes),
            ],
        )
        if not isinstance(reply, list):
            return IssueRefused.APP_DELETED if integer(reply) == 0 else IssueRefused.NOT_AUTHORIZED
        ae, uae = (integer(x) for x in reply)
        written = replace(grant, app_epoch=ae, user_app_epoch=uae, user_epoch=user_epoch)
        await self._write_tokens(written, grant_ttl, access_hash, access, refresh)
        return written

    @guarded
    async def continue_issued(
        self,
        grant: Grant,
        grant_ttl: int,
        access_hash: str,
        access: AccessTokenRecord,
        refresh: RefreshTokenRecord,
    ) -> bool:
        """Refresh within a grant: only while the grant exists and the epochs it recorded are still current
        (nothing revoked it since the caller looked), one script writes its new refresh hash; then both tokens.
        False (nothing written) otherwise."""
        user_epoch = int(opt_text(await self._r.get(ks.user_epoch(grant.user_id))) or 0)
        if user_epoch != grant.user_epoch:
            return False
        done = await self._continue_grant(
            keys=[ks.app(grant.client_id), ks.user_app_epoch(grant.user_id, grant.client_id), ks.grant(grant.grant_id)],
            args=[
                grant.app_epoch,
                grant.user_app_epoch,
                codec.grant_to_value(grant, self._bits),
                grant_ttl,
                self._epoch_ttl(grant_ttl),
            ],
        )
        if not integer(done):
            return False
        await self._write_tokens(grant, grant_ttl, access_hash, access, refresh)
        return True

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
        """End a grant: its refresh token and every access token issued under it (they point at it). One script
        with its announcement, confirmed by the required replicas; run again, it announces again."""
        v = opt_text(await self._r.get(ks.grant(grant_id)))
        g = codec.grant_from_value(grant_id, v, self._bits) if v else None
        client_id = g.client_id if g else grant_id.partition(".")[0]
        args = [*self._bus.announcement(GrantRevoked(grant_id)), grant_id]
        n = await self._conn.durable(self._revoke_grant, [ks.grant(grant_id), ks.app_grants(client_id)], args)
        if g is not None and g.refresh_hash:
            await self._r.delete(ks.refresh_token(g.refresh_hash))  # points at the grant: dead already
        return bool(integer(n))

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
                values = await self._conn.mget([ks.grant(g) for g in gids])
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
        """Everything validation compares a token against, in one round trip (on the data plane's own pool)."""
        async with self._reads.pipeline(transaction=False) as p:
            p.get(ks.grant(grant_id))
            p.hmget(ks.app(client_id), ["scopes", "epoch"])
            p.get(ks.user_app_epoch(user_id, client_id))
            p.get(ks.user_epoch(user_id))
            gv, app_fields, uae_reply, ue_reply = await p.execute()
        grant_value = opt_text(gv)
        scopes, epoch = opt_texts(app_fields)
        uae, ue = opt_text(uae_reply), opt_text(ue_reply)
        grant = codec.grant_from_value(grant_id, grant_value, self._bits) if grant_value else None
        state = AppState(frozenset(scopes.split()), int(epoch or 0)) if scopes is not None else None
        return grant, state, int(uae or 0), int(ue or 0)

    @guarded
    async def revoke_access_token(self, token_hash: str) -> bool:
        n = await self._conn.durable(
            self._revoke_access, [ks.access_token(token_hash)], self._bus.announcement(TokenRevoked(token_hash))
        )
        return bool(integer(n))

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
        """Atomically take a refresh token for rotation, confirmed by the required replicas.

        Returns (record, None) the first time; (None, grant_id) when it was already rotated (reuse: the caller
        revokes that grant); (None, None) when it never existed or has expired. When the replicas do not confirm,
        the take is undone (so the client's retry is not taken for a reuse) and StoreUnavailable is raised.
        """
        keys = [ks.refresh_token(token_hash), ks.refresh_used(token_hash)]
        try:
            taken = opt_text(await self._conn.durable(self._rotate, keys, [self._conn.options.refresh_ttl]))
        except NotAcknowledged as exc:
            record = opt_text(exc.result)
            if record:
                gid, exp = record.split("|")
                await self._conn.undo_take(self._undo_take, keys, record, int(exp) - _now(), gid or "-")
            raise
        if taken:
            g, exp = taken.split("|")
            return RefreshTokenRecord(grant_id=g, expires_at=int(exp)), None
        used = opt_text(await self._r.get(ks.refresh_used(token_hash)))
        return None, (used if used and used != "-" else None)
