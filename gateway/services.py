"""Everything built once at start-up and shared by the request handlers of one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from gateway.accesslog import AccessLog
from gateway.metrics import Metrics
from gateway.security import Hasher
from gateway.settings import Settings
from gateway.store.base import Store
from gateway.store.options import StoreOptions
from gateway.store.redis_store import connect
from gateway.validation import TokenValidator

log = logging.getLogger("scopegate")


@dataclass
class Services:
    settings: Settings
    store: Store
    hasher: Hasher
    validator: TokenValidator
    metrics: Metrics
    background: set[asyncio.Task[object]] = field(default_factory=set)
    scopes_ready: bool = False  # the scope-bit registry is loaded: tokens can be read and written
    access_log: AccessLog | None = None
    clock: Callable[[], float] = time.time  # the one source of "now" for validation, issuance and sessions

    def spawn(self, coro: Coroutine[Any, Any, object], name: str) -> asyncio.Task[object]:
        """Fire-and-forget work (clean-up, last-used updates) that is kept referenced and cancelled at stop."""
        task: asyncio.Task[object] = asyncio.ensure_future(coro)
        task.set_name(name)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task


def store_options(settings: Settings) -> StoreOptions:
    return StoreOptions(
        timeout=settings.redis_timeout,
        pool_size=settings.redis_pool_size,
        pool_timeout=settings.redis_pool_timeout,
        read_pool_size=settings.redis_read_pool_size,
        min_replicas_acked=settings.redis_min_replicas_acked,
        ack_timeout=settings.redis_ack_timeout,
        refresh_ttl=settings.refresh_token_ttl,
        audit_max_entries=settings.audit_max_entries,
    )


def build_services(settings: Settings, store: Store | None = None, clock: Callable[[], float] = time.time) -> Services:
    metrics = Metrics()
    store = store or connect(settings.redis_url, options=store_options(settings))
    hasher = Hasher(settings.secret_key)
    validator = TokenValidator(
        store,
        hasher,
        cache_enabled=settings.cache_enabled,
        max_entries=settings.cache_max_entries,
        max_age=settings.cache_max_age,
        on_propagation=metrics.revocation_propagation.observe,
        clock=clock,
    )
    return Services(
        settings=settings,
        store=store,
        hasher=hasher,
        validator=validator,
        metrics=metrics,
        access_log=AccessLog() if settings.access_log else None,
        clock=clock,
    )


async def start(services: Services) -> None:
    """Register scopes (retrying while Redis is down: a process may start before its Redis) and subscribe."""
    settings = services.settings

    def on_state(ok: bool) -> None:
        services.validator.on_subscription(ok)
        services.metrics.subscribed.set(1 if ok else 0)
        if not ok:
            services.metrics.subscription_lost.inc()

    async def scopes_then_subscribe() -> None:
        delay = 0.1
        while True:
            try:
                await services.store.init_scopes(settings.scopes)
                break
            except Exception as exc:
                log.warning("store not ready (%s); retrying", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        services.scopes_ready = True
        await services.store.listen_revocations(
            services.validator.on_revocation, on_state, liveness_timeout=settings.redis_subscription_timeout
        )

    services.spawn(scopes_then_subscribe(), "revocation-subscription")
    services.spawn(maintain(services), "store-maintenance")
    if services.access_log is not None:
        services.spawn(services.access_log.run(), "access-log")


MAINTENANCE_INTERVAL = 30.0  # seconds between replica detections and clean-up resumptions


async def maintain(services: Services, interval: float = MAINTENANCE_INTERVAL) -> None:
    """At start and then periodically: learn whether the primary has replicas (so security-critical writes wait for
    one: redis.min_replicas_acked auto), and finish the clean-up of deleted applications that a crash or an outage
    interrupted (the queue is written with the delete, so any process resumes it)."""
    store = services.store
    while True:
        try:
            await store.detect_replicas()
            for client_id in await store.pending_cleanups():
                removed = await store.cleanup_app(client_id)
                log.info("clean-up of deleted application %s resumed (%d grants)", client_id, removed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("store maintenance deferred (%s)", type(exc).__name__)
        await asyncio.sleep(interval)


async def stop(services: Services) -> None:
    for task in list(services.background):
        task.cancel()
    for task in list(services.background):
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if services.access_log is not None:
        services.access_log.flush()
    await services.store.close()
