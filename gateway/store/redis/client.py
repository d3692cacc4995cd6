"""The connection to Redis, shared by every capability module: how a client is made (redis://, rediss://, unix://,
redis+sentinel://, or memory:// on fakeredis), the one table of errors that mean "the store is unavailable", typed
conversion of replies, and the GET batcher.

Every client is made with decode_responses=True, so every reply is str; redis-py types replies as `bytes | str`
(and pipeline and script results as Any), so replies are converted here, checked, at the boundary.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar, cast

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript

from gateway import events
from gateway.errors import StoreUnavailable
from gateway.events import Revocation
from gateway.store import codec
from gateway.store import keyspace as ks
from gateway.store.options import StoreOptions
from gateway.store.urls import CLUSTER_SCHEMES, parse_cluster_url, parse_sentinel_url

Redis = aioredis.Redis
log = logging.getLogger("scopegate.store")

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
    if isinstance(exc, redis_errors.ConnectionError) and "No connection available" in str(exc):
        return StoreUnavailable(
            "token store busy: no connection free within redis.pool_timeout", reason="store_pool_exhausted"
        )
    return StoreUnavailable("token store unreachable")


class NotAcknowledged(StoreUnavailable):
    """A security-critical write reached the primary but not the replicas the operator requires within
    redis.ack_timeout: it is not acknowledged (503), and retrying the call is safe (every such write is idempotent
    or re-announces itself)."""

    def __init__(self, wanted: int, acked: int, timeout: float, result: object = None) -> None:
        super().__init__(
            f"write not confirmed by {wanted} replica(s) within {timeout:g}s ({acked} confirmed); retry",
            reason="replicas_not_acked",
        )
        self.wanted = wanted
        self.acked = acked
        self.result = result  # what the write script answered on the primary (for a compensating undo)


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

    __slots__ = ("_cluster", "_futures", "_keys", "_max", "_r", "_tasks")

    def __init__(self, client: Redis, max_batch: int = 256, *, cluster: bool = False) -> None:
        self._r = client
        self._cluster = cluster  # keys of different slots: one MGET per slot (redis-py's mget_nonatomic)
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
            if self._cluster:
                values = await self._r.mget_nonatomic(keys)  # type: ignore[attr-defined]
            else:
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
    """The Redis clients and what the capabilities share on them: the GET batcher, the scope-bit registry that every
    process reads the same way, and the durable-write step (a write, then WAIT on the connection that wrote it).

    Two pools: `r` serves every caller (admin, portal, token endpoint); `reads` is reserved for the data plane's
    token lookups (the GET batcher and the validation facts), so a burst of unauthenticated page loads queueing on
    `r` cannot starve token validation. Both pools queue a caller for at most `pool_timeout` (then 503)."""

    def __init__(
        self,
        client: Redis,
        *,
        reads: Redis | None = None,
        options: StoreOptions | None = None,
        also_close: tuple[Redis, ...] = (),
        embedded: bool = False,
        cluster: bool = False,
        node_client: Callable[[str, int], Redis] | None = None,
    ) -> None:
        self.r = client
        self.reads = reads or client
        self.options = options or StoreOptions()
        self.gets = GetBatcher(self.reads, cluster=cluster)
        self.scope_bits = codec.ScopeBits()
        self.embedded = embedded  # fakeredis: one process, no replicas, no WAIT
        self.cluster = cluster  # Redis Cluster: MGET split by slot, WAIT on the slot's primary
        self._also_close = also_close  # e.g. the Sentinel connections that found the master
        self._replicas_seen = 0
        self._node_client = node_client  # Redis Cluster: a plain client to one primary, for write + WAIT
        self._nodes: dict[tuple[str, int], Redis] = {}

    async def mget(self, keys: list[str]) -> list[Any]:
        """MGET; on Redis Cluster split by slot (keys of different slots cannot be read in one command)."""
        if self.cluster:
            return list(await self.r.mget_nonatomic(keys))  # type: ignore[attr-defined]
        return list(await self.r.mget(keys))

    async def close(self) -> None:
        await self.r.aclose()
        if self.reads is not self.r:
            await self.reads.aclose()
        for node in self._nodes.values():
            await node.aclose()
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

    # --- durability ---------------------------------------------------------------------------------------------

    @property
    def required_acks(self) -> int:
        """Replicas a security-critical write must reach before it is acknowledged."""
        configured = self.options.min_replicas_acked
        if configured is not None:
            return configured
        # Automatic: once this process has seen a replica, it keeps requiring one (a replica that drops out must
        # not silently turn durable writes into primary-only ones).
        return min(self._replicas_seen, 1)

    @guarded
    async def detect_replicas(self) -> int:
        """Read `connected_slaves` from INFO replication (at start and periodically); returns it."""
        if self.embedded:
            return 0
        if self.cluster:
            from redis.asyncio.cluster import RedisCluster

            # Every shard must have the replicas required: the least replicated primary decides.
            per_node = await self.r.info("replication", target_nodes=RedisCluster.PRIMARIES)
            rows = [v for v in per_node.values() if isinstance(v, Mapping)] if isinstance(per_node, Mapping) else []
            seen = min((int(v.get("connected_slaves", 0)) for v in rows), default=0)
            self._replicas_seen = max(self._replicas_seen, seen)
            return seen
        info = await self.r.info("replication")
        seen = int(info.get("connected_slaves", 0)) if isinstance(info, Mapping) else 0
        self._replicas_seen = max(self._replicas_seen, seen)
        return seen

    @guarded
    async def durable(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        """Run one write script; when replicas are required, follow it with WAIT on the same connection (one
        pipeline: one connection, one round trip). Raises NotAcknowledged when fewer replicas confirmed in time:
        the write may have reached the primary, so every script run here is safe to run again."""
        need = self.required_acks
        if need <= 0 or self.embedded:
            return await script(keys=keys, args=args)
        timeout = self.options.ack_timeout
        client = self.r
        if self.cluster and self._node_client is not None:
            # WAIT counts what *this connection* wrote: on a cluster, write and wait on the primary of the keys' slot
            # through one plain connection to it.
            node = self.r.get_node_from_key(keys[0])  # type: ignore[attr-defined]
            address = (str(node.host), int(node.port))
            if address not in self._nodes:
                self._nodes[address] = self._node_client(*address)
            client = self._nodes[address]
        try:
            async with client.pipeline(transaction=False) as p:
                await script(keys=keys, args=args, client=p)
                p.execute_command("WAIT", need, max(1, int(timeout * 1000)))
                result, acked = await p.execute()
        except (redis_errors.MovedError, redis_errors.AskError) as exc:
            # The slot moved (resharding, failover): learn the new layout; the caller's retry is safe.
            await self.r.initialize()
            raise StoreUnavailable("token store cluster layout changed; retry", reason="cluster_moved") from exc
        if integer(acked) < need:
            raise NotAcknowledged(need, integer(acked), timeout, result)
        return result

    async def undo_take(self, undo: AsyncScript, keys: list[str], record: str, ttl: int, marker: str) -> None:
        """Compensate a single-use take (code redemption, refresh rotation) that the replicas did not confirm: put
        the record back unless a replay flagged it meanwhile, so the client's retry succeeds instead of being taken
        for a replay. Best effort: when even this fails, the retry is refused as a replay (safe, never unsafe)."""
        try:
            await undo(keys=keys, args=[record, max(1, ttl), marker])
        except UNAVAILABLE:
            log.warning("could not undo an unconfirmed single-use take; a retry will be refused as a replay")


def _reconnect_once() -> Retry:
    """A pooled connection that Redis closed (a restart, a failover) is replaced and the command sent again, once, at
    once; a timeout is never retried (a slow Redis is a down Redis: 503). Every write the store retries this way is
    safe to run twice (see scripts.py)."""
    return Retry(NoBackoff(), 1, supported_errors=(redis_errors.ConnectionError,))


def _pool(url: str, size: int, options: StoreOptions) -> Redis:
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=size,
        timeout=options.pool_timeout,
        decode_responses=True,
        socket_timeout=options.timeout,
        socket_connect_timeout=options.timeout,
        retry_on_timeout=False,
        retry=_reconnect_once(),
    )
    return Redis.from_pool(pool)


def open_connection(
    redis_url: str, *, timeout: float = 0.5, max_connections: int = 64, options: StoreOptions | None = None
) -> Connection:
    """A connection for `redis_url`: redis://, rediss://, unix://, redis+sentinel://, or memory:// (embedded)."""
    options = options or StoreOptions(timeout=timeout, pool_size=max_connections)
    if redis_url.startswith("memory://"):
        # Only here is fakeredis imported: the embedded mode for the quick start and fast unit tests. It runs the
        # same commands and the same Lua scripts (fakeredis[lua]).
        import fakeredis

        fake: Redis = fakeredis.FakeAsyncRedis(decode_responses=True)
        return Connection(fake, options=options, embedded=True)
    if redis_url.startswith(CLUSTER_SCHEMES):
        return _cluster_connection(redis_url, options)
    if redis_url.startswith("redis+sentinel://"):
        # Sentinel finds the current master and follows failovers; the store code is the same.
        from redis.asyncio.sentinel import Sentinel

        hosts, service, db, password = parse_sentinel_url(redis_url)
        sentinel = Sentinel(hosts, socket_timeout=options.timeout, socket_connect_timeout=options.timeout)  # type: ignore[no-untyped-call]

        def master(size: int) -> Redis:
            client: Redis = sentinel.master_for(
                service,
                db=db,
                password=password,
                decode_responses=True,
                socket_timeout=options.timeout,
                socket_connect_timeout=options.timeout,
                max_connections=size,
                retry_on_timeout=False,
            )
            return client

        return Connection(
            master(options.pool_size),
            reads=master(options.read_pool_size),
            options=options,
            also_close=tuple(sentinel.sentinels),
        )
    return Connection(
        _pool(redis_url, options.pool_size, options),
        reads=_pool(redis_url, options.read_pool_size, options),
        options=options,
    )


def _cluster_connection(redis_url: str, options: StoreOptions) -> Connection:
    """Redis Cluster (redis+cluster://, rediss+cluster://): every atomic step of the store is single-slot
    (keyspace.py); revocation messages are PUBLISHed inside the write scripts, and classic pub/sub is broadcast to
    every node of a cluster, so a subscriber on any node hears every message."""
    from redis.asyncio.cluster import ClusterNode, RedisCluster

    nodes, tls, username, password = parse_cluster_url(redis_url)

    def cluster(size: int) -> Redis:
        client = RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in nodes],
            decode_responses=True,
            socket_timeout=options.timeout,
            socket_connect_timeout=options.timeout,
            max_connections=size,
            ssl=tls,
            username=username,
            password=password,
        )
        # The store's code is written against the Redis commands both clients share.
        return cast(Redis, client)

    def node_client(host: str, port: int) -> Redis:
        pool = aioredis.BlockingConnectionPool(
            host=host,
            port=port,
            max_connections=options.pool_size,
            timeout=options.pool_timeout,
            decode_responses=True,
            socket_timeout=options.timeout,
            socket_connect_timeout=options.timeout,
            username=username,
            password=password,
            connection_class=aioredis.SSLConnection if tls else aioredis.Connection,
            retry=_reconnect_once(),
        )
        return Redis.from_pool(pool)

    return Connection(
        cluster(options.pool_size),
        reads=cluster(options.read_pool_size),
        options=options,
        cluster=True,
        node_client=node_client,
    )


def announcement(event: Revocation) -> list[str]:
    """The PUBLISH arguments (channel, message) a write script sends with its change. The publish time travels with
    the message so every subscriber can measure propagation delay."""
    return [ks.REVOCATION_CHANNEL, events.encode(event, time.time())]
