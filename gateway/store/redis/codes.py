"""Authorization codes: single use, and the grant each redemption produced (AuthorizationCodes)."""

from __future__ import annotations

import time

from gateway.models import PendingCode
from gateway.store import codec, scripts
from gateway.store import keyspace as ks
from gateway.store.redis.client import Connection, NotAcknowledged, guarded, integer, opt_text

USED_MARKER_TTL = 600  # longer than any code lives (tokens.code_ttl is at most 60 s)


class RedisAuthorizationCodes:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._r = conn.r
        self._redeem = conn.r.register_script(scripts.REDEEM_ONCE)
        self._undo_take = conn.r.register_script(scripts.UNDO_TAKE)
        self._flag_replay = conn.r.register_script(scripts.FLAG_REPLAY)
        self._record_code_grant = conn.r.register_script(scripts.RECORD_CODE_GRANT)

    @guarded
    async def save_code(self, code_hash: str, pending: PendingCode) -> None:
        ttl = max(1, pending.expires_at - int(time.time()))
        await self._r.set(ks.code(code_hash), codec.code_to_json(pending), ex=ttl)

    @guarded
    async def redeem_code(self, code_hash: str) -> PendingCode | None:
        """Take a code exactly once (atomic), confirmed by the required replicas; None if unknown, expired or already
        redeemed. When the replicas do not confirm, the take is undone (a retry is not a replay) and
        StoreUnavailable is raised."""
        keys = [ks.code(code_hash), ks.code_used(code_hash)]
        try:
            raw = opt_text(await self._conn.durable(self._redeem, keys, [USED_MARKER_TTL]))
        except NotAcknowledged as exc:
            taken = opt_text(exc.result)
            if taken:
                ttl = codec.code_from_json(taken).expires_at - int(time.time())
                await self._conn.undo_take(self._undo_take, keys, taken, ttl, "")
            raise
        return codec.code_from_json(raw) if raw else None

    @guarded
    async def mark_code_grant(self, code_hash: str, grant_id: str) -> bool:
        """Remember which grant a redeemed code produced, so a replay can revoke it. False when a replay was
        seen while this redemption was minting: the caller must revoke the grant it just made."""
        return bool(
            integer(
                await self._conn.durable(
                    self._record_code_grant, [ks.code_used(code_hash)], [grant_id, USED_MARKER_TTL]
                )
            )
        )

    @guarded
    async def code_replay_grant(self, code_hash: str) -> str | None:
        """For a code that was already redeemed: the grant it produced; '' while that redemption is still
        minting (the code is then flagged, and that redemption withdraws its tokens); None if never redeemed."""
        v = opt_text(await self._conn.durable(self._flag_replay, [ks.code_used(code_hash)], []))
        if v is None or v == "!replayed":
            return None if v is None else ""
        return v
