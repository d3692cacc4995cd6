"""How the store connects and what it guarantees: pool sizes, the replica acknowledgement every security-critical
write waits for, and the lifetimes of the bookkeeping keys. Built from the settings by the composition root."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoreOptions:
    timeout: float = 0.5  # socket timeout of every Redis call (redis.timeout)
    pool_size: int = 64  # connections shared by every caller but the data plane (redis.pool_size)
    pool_timeout: float = 0.5  # how long a caller queues for a free connection before 503 (redis.pool_timeout)
    read_pool_size: int = 32  # connections reserved for the data plane's token reads (redis.read_pool_size)
    # Replicas that must confirm a security-critical write before it is acknowledged (WAIT). None = automatic:
    # 1 once the primary has reported a connected replica (INFO replication), 0 for a single server.
    min_replicas_acked: int | None = None
    ack_timeout: float = 0.25  # how long WAIT waits for those replicas (redis.ack_timeout)
    refresh_ttl: int = 30 * 86400  # the longest token lifetime: bounds epochs and used-refresh markers
    audit_max_entries: int = 1_000_000  # the audit stream is trimmed to about this many entries (audit.max_entries)

    @property
    def epoch_ttl(self) -> int:
        """Epoch keys outlive every grant that recorded them: the longest grant lifetime plus a margin."""
        return self.refresh_ttl + 3600
