"""Registered applications and their client secrets (ApplicationRegistry)."""

from __future__ import annotations

import logging
import time

from redis.typing import EncodableT

from gateway.errors import StoreUnavailable
from gateway.events import ApplicationChanged
from gateway.models import Application, AppState
from gateway.store import codec, scripts
from gateway.store import keyspace as ks
from gateway.store.redis.authorizations import RedisUserAuthorizations
from gateway.store.redis.client import (
    UNAVAILABLE,
    Connection,
    guarded,
    integer,
    opt_text,
    text_map,
    texts,
)
from gateway.store.redis.revocations import RedisRevocationBus
from gateway.store.redis.tokens import RedisTokens

log = logging.getLogger("scopegate.store")

_PAUSED: tuple[type[BaseException], ...] = (StoreUnavailable, *UNAVAILABLE)


class RedisApplications:
    def __init__(
        self,
        conn: Connection,
        bus: RedisRevocationBus,
        tokens: RedisTokens,
        authorizations: RedisUserAuthorizations,
    ) -> None:
        self._conn = conn
        self._r = conn.r
        self._bus = bus
        self._tokens = tokens
        self._authorizations = authorizations
        self._update = conn.r.register_script(scripts.UPDATE_APP)
        self._rotate_secret = conn.r.register_script(scripts.ROTATE_CLIENT_HASHES)
        self._delete = conn.r.register_script(scripts.DELETE_APP)

    @guarded
    async def create_app(self, app: Application, secret_hash: str | None) -> None:
        """`secret_hash` None: a public application, which has no secret."""
        fields: dict[EncodableT, EncodableT] = {"epoch": "0"}
        fields.update(codec.app_to_fields(app))
        async with self._r.pipeline(transaction=True) as p:  # one slot: the application's
            p.hset(ks.app(app.client_id), mapping=fields)
            if secret_hash is not None:
                p.hset(ks.app_secrets(app.client_id), secret_hash, "0")
            await p.execute()
        await self._r.sadd(ks.APPS, app.client_id)

    @guarded
    async def get_app(self, client_id: str) -> Application | None:
        h = text_map(await self._r.hgetall(ks.app(client_id)))
        return codec.app_from_fields(client_id, h) if h else None

    @guarded
    async def list_apps(self, owner: str | None = None) -> list[Application]:
        ids = sorted(texts(await self._r.smembers(ks.APPS)))
        async with self._r.pipeline(transaction=False) as p:
            for cid in ids:
                p.hgetall(ks.app(cid))
            rows = [text_map(row) for row in await p.execute()]
        apps = [codec.app_from_fields(cid, h) for cid, h in zip(ids, rows, strict=True) if h]
        apps.sort(key=lambda a: a.created_at)
        return [a for a in apps if owner is None or a.owner == owner]

    @guarded
    async def update_app(self, app: Application) -> bool:
        """Overwrite the editable fields, atomically and only while the application exists (one script); False
        when it no longer exists. The change is announced in the same script and confirmed by the required
        replicas (an unticked scope is a revocation)."""
        args = [x for field, value in codec.app_to_fields(app).items() for x in (field, value)]
        done = await self._conn.durable(
            self._update, [ks.app(app.client_id)], [*self._bus.announcement(ApplicationChanged(app.client_id)), *args]
        )
        return bool(integer(done))

    @guarded
    async def delete_app(self, client_id: str) -> bool:
        """Remove the application and announce it in one script (its slot), confirmed by the required replicas;
        every token it had fails validation from then on. Run again on an application already gone, it announces
        again and answers False (so a DELETE retried after a 503 re-publishes).

        The clean-up is queued before the delete (so no crash can leave a deleted application unqueued; a queue entry
        whose application still exists is dropped by the clean-up) and again after it (in case a clean-up dropped the
        entry in between)."""
        await self._r.sadd(ks.CLEANUP_QUEUE, client_id)
        deleted = await self._conn.durable(
            self._delete,
            [ks.app(client_id), ks.app_secrets(client_id)],
            self._bus.announcement(ApplicationChanged(client_id)),
        )
        async with self._r.pipeline(transaction=False) as p:
            p.sadd(ks.CLEANUP_QUEUE, client_id)
            p.srem(ks.APPS, client_id)
            await p.execute()
        return bool(integer(deleted))

    async def cleanup_app(self, client_id: str, batch: int = 500) -> int:
        """Clean-up after deletion: drop the app's grants and refresh tokens in small batches, then its users'
        Authorized Applications rows, then its entry in the clean-up queue. The queue entry was written with the
        delete, so a clean-up interrupted by a crash or an outage is resumed by any process (`pending_cleanups`).

        Access tokens of a deleted application are already dead (validation finds no application) and expire by
        TTL; this only reclaims memory, so it yields between batches and never blocks the event loop.
        """
        try:
            if await self._r.exists(ks.app(client_id)):
                await self._r.srem(ks.CLEANUP_QUEUE, client_id)  # queued by a delete that never happened
                return 0
        except UNAVAILABLE:
            return 0
        removed, complete = await self._tokens.drop_app_grants(client_id, batch)
        if not complete:
            log.warning("clean-up of %s paused: store unavailable", client_id)
            return removed
        try:
            await self._authorizations.revoke_client_rows(client_id)
            await self._r.delete(ks.app_consents(client_id))
            async with self._r.pipeline(transaction=False) as p:
                p.srem(ks.APPS, client_id)
                p.srem(ks.CLEANUP_QUEUE, client_id)
                await p.execute()
        except _PAUSED:
            log.warning("clean-up of %s paused: store unavailable", client_id)
        return removed

    @guarded
    async def pending_cleanups(self) -> list[str]:
        """Deleted applications whose clean-up has not finished (interrupted, or still running elsewhere)."""
        return sorted(texts(await self._r.smembers(ks.CLEANUP_QUEUE)))

    @guarded
    async def app_state(self, client_id: str) -> AppState | None:
        scopes, epoch = await self._r.hmget(ks.app(client_id), ["scopes", "epoch"])
        scope_text = opt_text(scopes)
        if scope_text is None:
            return None
        return AppState(scopes=frozenset(scope_text.split()), epoch=int(opt_text(epoch) or 0))

    @guarded
    async def secret_hashes(self, client_id: str) -> list[str]:
        """Hashes of the secrets that authenticate this client now (the current one and any in grace)."""
        rows = text_map(await self._r.hgetall(ks.app_secrets(client_id)))
        now = time.time()
        return [h for h, until in rows.items() if float(until) == 0 or float(until) > now]

    @guarded
    async def rotate_secret(self, client_id: str, new_hash: str, grace_seconds: float) -> bool:
        """Add a new secret; older ones stay valid for `grace_seconds` (none when <= 0). One script: atomic, and
        nothing is written when the application no longer exists."""
        until = time.time() + grace_seconds
        done = await self._conn.durable(
            self._rotate_secret,
            [ks.app(client_id), ks.app_secrets(client_id)],
            [new_hash, repr(until), "1" if grace_seconds > 0 else "0"],
        )
        return bool(integer(done))

    @guarded
    async def delete_secrets(self, client_id: str) -> None:
        """Drop every secret of the client (it became public: Server-Side off)."""
        await self._r.delete(ks.app_secrets(client_id))
