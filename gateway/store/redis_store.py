"""The Redis adapter's old address: `RedisStore` and `connect` now live in the package `gateway.store.redis`."""

from __future__ import annotations

from gateway.store.redis import RedisStore, connect

__all__ = ["RedisStore", "connect"]
