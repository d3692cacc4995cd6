"""The Redis pools queue a caller briefly instead of failing at once (bounded by redis.pool_timeout, then 503), and
the data plane's token reads have a pool of their own that nothing else can exhaust."""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import StoreUnavailable
from gateway.store.options import StoreOptions
from gateway.store.redis_store import connect


async def test_a_burst_larger_than_the_pool_queues_instead_of_failing(redis_url: str) -> None:
    store = connect(redis_url, options=StoreOptions(pool_size=2, pool_timeout=2.0, read_pool_size=1))
    try:
        results = await asyncio.gather(
            *(store.get_app(f"c{i}") for i in range(300)),
            *(store.get_access_token(f"h{i}") for i in range(300)),
            *(store.validation_facts("g", "c", f"u{i}") for i in range(50)),
        )
        assert len(results) == 650
    finally:
        await store.close()


async def test_an_exhausted_pool_answers_503_after_the_bound_and_token_reads_still_work(redis_url: str) -> None:
    store = connect(redis_url, options=StoreOptions(timeout=3.0, pool_size=2, pool_timeout=0.1, read_pool_size=2))
    try:
        # Every general connection is busy (e.g. a burst of unauthenticated page loads) ...
        holders = [asyncio.create_task(store._r.blpop([f"sg:test:block{i}"], timeout=1)) for i in range(2)]
        await asyncio.sleep(0.1)
        with pytest.raises(StoreUnavailable) as caught:
            await store.get_app("c")
        assert caught.value.reason == "store_pool_exhausted"
        # ... and token validation is not starved: it reads through its own pool.
        assert await store.get_access_token("h") is None
        grant, app, _, _ = await store.validation_facts("g", "c", "u")
        assert grant is None and app is None
        await asyncio.gather(*holders)
        assert await store.get_app("c") is None  # free again
    finally:
        await store.close()
