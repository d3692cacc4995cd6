"""The revocation bus: one pub/sub channel that tells every process what a write invalidated."""

from __future__ import annotations

import asyncio
import logging
import time

from redis import exceptions as redis_errors
from redis.asyncio.client import PubSub

from gateway import events
from gateway.events import Revocation
from gateway.store import keyspace as ks
from gateway.store.base import RevocationHandler, StateHandler
from gateway.store.redis.client import UNAVAILABLE, Connection, announcement, guarded, opt_text

log = logging.getLogger("scopegate.store")

# The subscription is lost (and retried) on any unavailability of the table, or any other Redis error.
_LOST: tuple[type[BaseException], ...] = (*UNAVAILABLE, redis_errors.RedisError)


class RedisRevocationBus:
    def __init__(self, conn: Connection) -> None:
        self._r = conn.r

    def announcement(self, event: Revocation) -> list[str]:
        """The PUBLISH arguments (channel, message) that a write script sends in the same step as its change."""
        return announcement(event)

    @guarded
    async def publish(self, event: Revocation) -> None:
        # The publish time travels with the message so every subscriber can measure propagation delay.
        await self._r.publish(ks.REVOCATION_CHANNEL, events.encode(event, time.time()))

    async def listen_revocations(
        self,
        on_message: RevocationHandler,
        on_state: StateHandler,
        *,
        ping_interval: float = 1.0,
    ) -> None:
        """Run forever: deliver revocation messages; report subscribed/unsubscribed so caches can stop trusting."""
        backoff = 0.05
        while True:
            pubsub = self._r.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(ks.REVOCATION_CHANNEL)
                on_state(True)
                backoff = 0.05
                last_ping = time.monotonic()
                while True:
                    msg = await pubsub.get_message(timeout=ping_interval)
                    if isinstance(msg, dict) and msg.get("type") == "message":
                        on_message(opt_text(msg["data"]) or "")
                    if time.monotonic() - last_ping >= ping_interval:
                        # A dead connection can look idle; a ping proves the subscription is still there.
                        await asyncio.wait_for(pubsub.ping(), timeout=max(ping_interval, 0.5))
                        last_ping = time.monotonic()
            except asyncio.CancelledError:
                on_state(False)
                await _quiet_close(pubsub)
                raise
            except _LOST as exc:
                on_state(False)
                log.warning("revocation subscription lost (%s); caches bypassed until resubscribed", type(exc).__name__)
                await _quiet_close(pubsub)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)


async def _quiet_close(pubsub: PubSub) -> None:
    try:
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves PubSub.aclose unannotated
    except Exception:
        log.debug("pubsub close failed", exc_info=True)
