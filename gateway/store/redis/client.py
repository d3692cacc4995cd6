"""The connection to Redis, shared by every capability module: how a client is made (redis://, rediss://, unix://,
redis+sentinel://, or memory:// on fakeredis), the one table of errors that mean "the store is unavailable", typed
conversion of replies, and the GET batcher.

Every client is made with decode_responses=True, so every reply is str; redis-py types replies as `bytes | str`
(and pipeline and script results as Any), so replies are converted here, checked, at the boundary.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from gateway.errors import StoreUnavailable
from gateway.store import codec
from gateway.store import keyspace as ks
from gateway.store.urls import parse_sentinel_url

Redis = aioredis.Redis

# The one error-mapping table: a failure of any of these kinds means Redis is unreachable or too slow, which every
# caller sees as StoreUnavailable (503, fail closed). `guarded` applies it to a call, `store_error` builds the error.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    OSError,
    asyncio.TimeoutError,
)


def store_error(exc: BaseException) -> StoreUnavailable:
    """The error a caller sees for `exc` (raise it `from exc`)."""
    return StoreUnavailable("token store unreachable")


P = ParamSpec("P")
R = TypeVar("R")


def guarded(method: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Map Redis being unreachable or slow to StoreUnavailable, through the table above."""

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except UNAVAILABLE as exc:
            raise store_error(exc) from exc

    return call


# --- replies --------------------------------------------------------------------------------------------------


def text(v: object) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return v.decode()
    raise TypeError(f"expected a string reply, got {type(v).__name__}")


def opt_text(v: object) -> str | None:
    return None if v is None else text(v)


def texts(v: object) -> list[str]:
    if not isinstance(v, list | set | tuple):
        raise TypeError(f"expected a list reply, got {type(v).__name__}")
    return [text(x) for x in v]


def opt_texts(v: object) -> list[str | None]:
    if not isinstance(v, list):
        raise TypeError(f"expected a list reply, got {type(v).__name__}")
    return [opt_text(x) for x in v]


def text_map(v: object) -> dict[str, str]:
    if not isinstance(v, Mapping):
        raise TypeError(f"expected a hash reply, got {type(v).__name__}")
    return {text(k): text(x) for k, x in v.items()}


def integer(v: object) -> int:
    if isinstance(v, int | str | bytes):
        return int(v)
    raise TypeError(f"expected an integer reply, got {type(v).__name__}")


def opt_int(v: object) -> int | None:
    return None if v is None else integer(v)


# --- the GET batcher ------------------------------------------------------------------------------------------


class GetBatcher:
    """Coalesce the GETs issued in one event-loop iteration into one MGET: one round trip and one redis-py call
    for all of them. redis-py's per-command overhead (pool checkout, retry wrapper, parser) costs more CPU than the
    rest of a proxied request's token check, and under load many lookups arrive together."""

    __slots__ = ("_futures", "_keys", "_max", "_r", "_tasks")

    def __init__(self, client: Redis, max_batch: int = 256) -> None:
        self._r = client
        self._max = max_batch
        self._keys: list[str] = []
        self._futures: list[asyncio.Future[str | None]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def get(self, key: str) -> asyncio.Future[str | None]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[str | None] = loop.create_future()
        if not self._keys:
            loop.call_soon(self._flush)
        self._keys.append(key)
        self._futures.append(fut)
        if len(self._keys) >= self._max:
            self._flush()
        return fut

    def _flush(self) -> None:
        if not self._keys:
            return
        keys, futures = self._keys, self._futures
        self._keys, self._futures = [], []
        task = asyncio.ensure_future(self._send(keys, futures))
        self._tasks.add(task)  # referenced until done, so it is not collected mid-flight
        task.add_done_callback(self._tasks.discard)

    async def _send(self, keys: list[str], futures: list[asyncio.Future[str | None]]) -> None:
        try:
            values = await self._r.mget(keys)
        except BaseException as exc:
            for fut in futures:
                if not fut.done():  # a caller that gave up (cancelled) needs nothing
                    fut.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for fut, value in zip(futures, values, strict=True):
            if not fut.done():
                fut.set_result(opt_text(value))


# --- the connection -------------------------------------------------------------------------------------------


class Connection:
    """One Redis client (with its pool) and what the capabilities share on it: the GET batcher and the scope-bit
    registry that every process reads the same way."""

    def __init__(self, client: Redis, *, also_close: tuple[Redis, ...] = ()) -> None:
        self.r = client
        self.gets = GetBatcher(client)
        self.scope_bits = codec.ScopeBits()
        self._also_close = also_close  # e.g. the Sentinel connections that found the master

    async def close(self) -> None:
        await self.r.aclose()
        for extra in self._also_close:
            await extra.aclose()

    @guarded
    async def ping(self) -> float:
        """One round trip; returns its latency in seconds."""
        started = time.perf_counter()
        await self.r.ping()
        return time.perf_counter() - started

    @guarded
    async def init_scopes(self, catalog: Iterable[str]) -> None:
        """Give every scope a stable bit, shared by every process, so a token stores scopes in a few bytes."""
        known = text_map(await self.r.hgetall(ks.SCOPE_BITS))
        for name in catalog:
            if name not in known:
                bit = int(await self.r.incr(ks.SCOPE_BITS_NEXT)) - 1
                await self.r.hsetnx(ks.SCOPE_BITS, name, bit)
        self.scope_bits.load(text_map(await self.r.hgetall(ks.SCOPE_BITS)))


def open_connection(redis_url: str, *, timeout: float = 0.5, max_connections: int = 64) -> Connection:
    """A connection for `redis_url`: redis://, rediss://, unix://, redis+sentinel://, or memory:// (embedded)."""
    if redis_url.startswith("memory://"):
        # Only here is fakeredis imported: the embedded mode for the quick start and fast unit tests. It runs the
        # same commands and the same Lua scripts (fakeredis[lua]).
        import fakeredis

        fake: Redis = fakeredis.FakeAsyncRedis(decode_responses=True)
        return Connection(fake)
    if redis_url.startswith("redis+sentinel://"):
        # Sentinel finds the current master and follows failovers; the store code is the same.
        from redis.asyncio.sentinel import Sentinel

        hosts, service, db, password = parse_sentinel_url(redis_url)
        sentinel = Sentinel(hosts, socket_timeout=timeout, socket_connect_timeout=timeout)  # type: ignore[no-untyped-call]
        master: Redis = sentinel.master_for(
            service,
            db=db,
            password=password,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            max_connections=max_connections,
            retry_on_timeout=False,
        )
        return Connection(master, also_close=tuple(sentinel.sentinels))
    client = Redis.from_url(
        redis_url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        max_connections=max_connections,
        retry_on_timeout=False,
    )
    return Connection(client)
