"""Authorization codes: single use, and the grant each redemption produced (AuthorizationCodes)."""

from __future__ import annotations

import time

from gateway.models import PendingCode
from gateway.store import codec, scripts
from gateway.store import keyspace as ks
from gateway.store.redis.client import Connection, guarded, integer, opt_text


class RedisAuthorizationCodes:
    def __init__(self, conn: Connection) -> None:
        self._r = conn.r
        self._redeem = conn.r.register_script(scripts.REDEEM_ONCE)
        self._flag_replay = conn.r.register_script(scripts.FLAG_REPLAY)
        self._record_code_grant = conn.r.register_script(scripts.RECORD_CODE_GRANT)

    @guarded
    async def save_code(self, code_hash: str, pending: PendingCode) -> None:
        ttl = max(1, pending.expires_at - int(time.time()))
        await self._r.set(ks.code(code_hash), codec.code_to_json(pending), ex=ttl)

    @guarded
    async def redeem_code(self, code_hash: str) -> PendingCode | None:
        """Take a code exactly once (atomic); None if unknown, expired or already redeemed."""
        raw = opt_text(await self._redeem(keys=[ks.code(code_hash), ks.code_used(code_hash)], args=[600]))
        return codec.code_from_json(raw) if raw else None

    @guarded
    async def mark_code_grant(self, code_hash: str, grant_id: str) -> bool:
        """Remember which grant a redeemed code produced, so a replay can revoke it. False when a replay was
        seen while this redemption was minting: the caller must revoke the grant it just made."""
        return bool(integer(await self._record_code_grant(keys=[ks.code_used(code_hash)], args=[grant_id, 600])))

    @guarded
    async def code_replay_grant(self, code_hash: str) -> str | None:
        """For a code that was already redeemed: the grant it produced; '' while that redemption is still
        minting (the code is then flagged, and that redemption withdraws its tokens); None if never redeemed."""
        v = opt_text(await self._flag_replay(keys=[ks.code_used(code_hash)]))
        if v is None or v == "!replayed":
            return None if v is None else ""
        return v
