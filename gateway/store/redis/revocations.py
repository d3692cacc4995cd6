"""The revocation bus: one pub/sub channel that tells every process what a write invalidated."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable

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
        liveness_timeout: float = 1.0,
    ) -> None:
        """Run forever: deliver revocation messages; report when the subscription is (and stops being) proven live.

        Liveness is proven end to end, not assumed: every `liveness_timeout / 4` seconds this process PUBLISHes a
        beat on a channel of its own through the ordinary (command) connection, the one writes go through, and reads
        it back on the subscription. Redis delivers a connection's messages in the order it executed the PUBLISHes,
        so receiving the beat sent at time t proves every revocation published before t has been delivered. When no
        beat sent within the last `liveness_timeout` seconds has come back (a silently stalled link, a subscription
        left on a server that no longer receives the writes, a Redis too slow to answer) the subscription is
        reported down (`on_state(False)`: caches are bypassed and cleared) and made again; it is reported up only
        once a beat has come back on the new subscription.
        """
        backoff = 0.05
        up = False

        def report(state: bool, why: str) -> None:
            nonlocal up
            if state == up:
                return
            up = state
            on_state(state)
            if state:
                log.info("revocation subscription live: cached token facts are trusted again (%s)", why)
            else:
                log.warning("revocation subscription down (%s): caches bypassed until it is proven live again", why)

        while True:
            pubsub = self._r.pubsub()
            beat_channel = f"{ks.REVOCATION_CHANNEL}:beat:{secrets.token_hex(8)}"
            try:
                await asyncio.wait_for(pubsub.subscribe(ks.REVOCATION_CHANNEL, beat_channel), liveness_timeout)
                await self._deliver(pubsub, beat_channel, on_message, report, liveness_timeout)
                backoff = 0.05
            except asyncio.CancelledError:
                if up:
                    on_state(False)
                await _quiet_close(pubsub)
                raise
            except _Silent as exc:
                report(False, str(exc))
            except _LOST as exc:
                report(False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            await _quiet_close(pubsub)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def _deliver(
        self,
        pubsub: PubSub,
        beat_channel: str,
        on_message: RevocationHandler,
        report: Callable[[bool, str], None],
        liveness_timeout: float,
    ) -> None:
        """Read the subscription until it cannot be proven live (raises _Silent or a Redis error)."""
        interval = liveness_timeout / 4
        loop = asyncio.get_running_loop()
        started = loop.time()
        proven = started  # the send time of the newest beat that came back (start: the grace of one timeout)
        next_beat = started
        beat: asyncio.Task[None] | None = None  # sent beside the reading, so a slow PUBLISH never delays a check
        try:
            while True:
                now = loop.time()
                if now >= next_beat:
                    next_beat = now + interval
                    if beat is None or beat.done():
                        beat = asyncio.create_task(self._beat(beat_channel, now, liveness_timeout))
                if now - proven > liveness_timeout:
                    raise _Silent(f"no beat came back within {liveness_timeout:g} s")
                wait = max(0.0, min(next_beat, proven + liveness_timeout) - loop.time()) + 0.001
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
                if not isinstance(msg, dict) or msg.get("type") != "message":
                    continue
                channel = opt_text(msg.get("channel"))
                if channel == ks.REVOCATION_CHANNEL:
                    on_message(opt_text(msg["data"]) or "")
                elif channel == beat_channel:
                    try:
                        sent = float(opt_text(msg["data"]) or "")
                    except ValueError:
                        continue
                    proven = max(proven, sent)
                    report(True, f"beat returned in {(loop.time() - sent) * 1000:.1f} ms")
        finally:
            if beat is not None and not beat.done():
                beat.cancel()

    async def _beat(self, beat_channel: str, now: float, bound: float) -> None:
        """Publish one beat (its send time); a failure is only logged: the beat not coming back is what counts."""
        try:
            await asyncio.wait_for(self._r.publish(beat_channel, repr(now)), bound)
        except _LOST as exc:
            log.debug("revocation beat not sent (%s)", type(exc).__name__)


class _Silent(Exception):
    """No beat came back within the liveness bound: the subscription cannot be trusted."""


async def _quiet_close(pubsub: PubSub) -> None:
    try:
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves PubSub.aclose unannotated
    except Exception:
        log.debug("pubsub close failed", exc_info=True)
