"""Short-lived records and throttling counters (EphemeralRecords, Counters)."""

from __future__ import annotations

import json
from typing import Any

from gateway.store import keyspace as ks
from gateway.store.redis.client import Connection, guarded, integer, opt_text


class RedisEphemeralRecords:
    """JSON records with a TTL: sessions, pending consent."""

    def __init__(self, conn: Connection) -> None:
        self._r = conn.r

    @guarded
    async def put_ephemeral(self, namespace: str, key: str, value: dict[str, Any], ttl_seconds: int) -> None:
        await self._r.set(ks.ephemeral(namespace, key), json.dumps(value), ex=ttl_seconds)

    @guarded
    async def get_ephemeral(self, namespace: str, key: str) -> dict[str, Any] | None:
        raw = opt_text(await self._r.get(ks.ephemeral(namespace, key)))
        return _record(raw) if raw else None

    @guarded
    async def take_ephemeral(self, namespace: str, key: str) -> dict[str, Any] | None:
        """Read and delete atomically (single use)."""
        raw = opt_text(await self._r.getdel(ks.ephemeral(namespace, key)))
        return _record(raw) if raw else None

    @guarded
    async def delete_ephemeral(self, namespace: str, key: str) -> None:
        await self._r.delete(ks.ephemeral(namespace, key))


def _record(raw: str) -> dict[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise TypeError("an ephemeral record is a JSON object")
    return value


class RedisCounters:
    """Fixed-window counters for throttling."""

    def __init__(self, conn: Connection) -> None:
        self._r = conn.r

    @guarded
    async def hit_counter(self, namespace: str, key: str, window_seconds: int, amount: int = 1) -> int:
        """Add `amount` (1; -1 gives a reserved attempt back) to a fixed-window counter; returns the count in the
        current window. The window starts with the first change and is never extended (EXPIRE NX)."""
        k = ks.counter(namespace, key)
        async with self._r.pipeline(transaction=True) as p:
            p.incrby(k, amount)
            p.expire(k, window_seconds, nx=True)
            n, _ = await p.execute()
        return integer(n)

    @guarded
    async def counter_value(self, namespace: str, key: str) -> tuple[int, int]:
        """(count, seconds until the window resets)."""
        k = ks.counter(namespace, key)
        async with self._r.pipeline(transaction=False) as p:
            p.get(k)
            p.ttl(k)
            n, ttl = await p.execute()
        return integer(opt_text(n) or 0), max(integer(ttl), 0)
