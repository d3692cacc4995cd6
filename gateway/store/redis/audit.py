"""The audit record: an append-only stream trimmed to about audit.max_entries, read newest first (AuditLog)."""

from __future__ import annotations

import json
import time
from typing import Any

from redis.typing import EncodableT

from gateway.store import keyspace as ks
from gateway.store.redis.client import Connection, guarded, text, text_map


class RedisAuditLog:
    def __init__(self, conn: Connection) -> None:
        self._r = conn.r
        self._max = conn.options.audit_max_entries

    @guarded
    async def append_audit(self, event: dict[str, Any]) -> str:
        fields: dict[EncodableT, EncodableT] = {"ts": repr(time.time()), **{k: json.dumps(v) for k, v in event.items()}}
        # Trimmed as it grows (approximately, so trimming stays O(1) amortized): audit.max_entries.
        return text(await self._r.xadd(ks.AUDIT, fields, maxlen=self._max, approximate=True))

    @guarded
    async def read_audit(self, count: int = 100, before: str | None = None) -> list[dict[str, Any]]:
        rows = await self._r.xrevrange(ks.AUDIT, max=f"({before}" if before else "+", min="-", count=count)
        out: list[dict[str, Any]] = []
        for entry_id, raw_fields in rows or []:
            fields = text_map(raw_fields)
            item: dict[str, Any] = {"id": text(entry_id), "ts": float(fields.pop("ts"))}
            item.update({k: json.loads(v) for k, v in fields.items()})
            out.append(item)
        return out
