"""Decider.decide alone: a fake token reader and a fake clock, no server, no Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from gateway import events
from gateway.errors import (
    BadPath,
    BasicAuthRejected,
    InsufficientScope,
    InvalidBearerRequest,
    InvalidToken,
    MissingCredentials,
    NoRoute,
    StoreUnavailable,
)
from gateway.events import ApplicationChanged, GrantRevoked, TokenRevoked, UserApplicationRevoked, UserRevoked
from gateway.models import AccessTokenRecord, AppState, Grant
from gateway.proxy.pipeline import Decider
from gateway.proxy.routes import Route, RouteTable
from gateway.security import Hasher, TokenKind, mint
from gateway.validation import TokenValidator

HASHER = Hasher(b"k" * 32)


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeReader:
    """An in-memory TokenReader; `gate` (when set) holds every read until released, to stage races."""

    def __init__(self) -> None:
        self.tokens: dict[str, AccessTokenRecord] = {}
        self.grants: dict[str, Grant] = {}
        self.apps: dict[str, AppState] = {}
        self.reads = 0
        self.gate: asyncio.Event | None = None
        self.down = False
        self.ua_epoch = 0  # the user's epoch with app1, and across apps (bumped by those revocations)
        self.u_epoch = 0

    async def _pause(self) -> None:
        self.reads += 1
        if self.down:
            raise StoreUnavailable("down", reason="redis_down")
        if self.gate is not None:
            await self.gate.wait()

    async def _token(self, h: str) -> AccessTokenRecord | None:
        value = self.tokens.get(h)  # read now, answered later: what a reply in flight carries
        await self._pause()
        return value

    def get_access_token(self, token_hash: str) -> Awaitable[AccessTokenRecord | None]:
        return self._token(token_hash)

    async def _facts(self, grant_id: str, client_id: str) -> tuple[Grant | None, AppState | None, int, int]:
        await self._pause()
        return self.grants.get(grant_id), self.apps.get(client_id), self.ua_epoch, self.u_epoch

    def validation_facts(
        self, grant_id: str, client_id: str, user_id: str
    ) -> Awaitable[tuple[Grant | None, AppState | None, int, int]]:
        return self._facts(grant_id, client_id)

    async def listen_revocations(
        self, on_message: Callable[[str], None], on_state: Callable[[bool], None], *, liveness_timeout: float = 1.0
    ) -> None:
        return None

    def add(self, scopes: set[str], *, expires_in: float = 3600, clock: FakeClock) -> str:
        raw = mint(TokenKind.ACCESS)
        grant = Grant("g1", "app1", "u 1", frozenset(scopes), 0, 0, 0, 0)
        self.grants["g1"] = grant
        self.apps["app1"] = AppState(frozenset({"events:read", "events:write"}), 0)
        self.tokens[HASHER.hash(raw)] = AccessTokenRecord(
            "g1", "app1", "u 1", frozenset(scopes), int(clock.now), int(clock.now + expires_in)
        )
        return raw


ROUTES = RouteTable(
    [
        Route("events.list", frozenset({"GET"}), "/v1/events", ("events:read",)),
        Route("events.write", frozenset({"POST"}), "/v1/events", ("events:write",)),
        Route("status", frozenset({"GET"}), "/v1/status", (), public=True),
    ]
)


def make(basic: str = "passthrough") -> tuple[Decider, FakeReader, FakeClock, TokenValidator]:
    clock, reader = FakeClock(), FakeReader()
    validator = TokenValidator(reader, HASHER, clock=clock)
    validator.subscribed = True
    return Decider(ROUTES, validator, basic_auth=basic), reader, clock, validator


async def test_a_token_with_the_scope_is_allowed_and_named() -> None:
    decider, reader, clock, _ = make()
    token = reader.add({"events:read"}, clock=clock)
    d = await decider.decide("GET", "/v1/events?x=1", [f"Bearer {token}"])
    assert d.reason == "allowed" and d.route.id == "events.list" and d.strip_authorization
    assert d.principal is not None and d.principal.user_id == "u 1" and d.principal.scopes == {"events:read"}
    assert d.target.forward == "/v1/events?x=1"


async def test_each_refusal_has_its_error() -> None:
    decider, reader, clock, _ = make(basic="reject")
    token = reader.add({"events:read"}, clock=clock)
    cases: list[tuple[str, str, list[str], type[Exception]]] = [
        ("GET", "/v1/nothing", [f"Bearer {token}"], NoRoute),
        ("GET", "/v1/%2e%2e/admin", [f"Bearer {token}"], BadPath),
        ("GET", "/v1/events", [], MissingCredentials),
        ("GET", "/v1/events", ["Basic Zm9vOmJhcg=="], BasicAuthRejected),
        ("GET", "/v1/events", ["Token abc"], InvalidBearerRequest),
        ("GET", "/v1/events", [f"Bearer {token}", f"Bearer {token}"], InvalidBearerRequest),
        ("GET", f"/v1/events?access_token={token}", [], InvalidBearerRequest),
        ("GET", "/v1/events", ["Bearer sgat_garbage"], InvalidToken),
        ("POST", "/v1/events", [f"Bearer {token}"], InsufficientScope),
    ]
    for method, target, auth, error in cases:
        with pytest.raises(error):
            await decider.decide(method, target, auth)


async def test_public_routes_need_no_token_and_never_forward_a_bearer() -> None:
    decider, *_ = make()
    d = await decider.decide("GET", "/v1/status", ["Bearer whatever"])
    assert d.principal is None and d.strip_authorization and d.reason == "public"


async def test_expiry_follows_the_clock_even_from_the_cache() -> None:
    decider, reader, clock, _ = make()
    token = reader.add({"events:read"}, expires_in=10, clock=clock)
    await decider.decide("GET", "/v1/events", [f"Bearer {token}"])
    reads = reader.reads
    clock.now += 5
    await decider.decide("GET", "/v1/events", [f"Bearer {token}"])
    assert reader.reads == reads  # served from the cache
    clock.now += 6
    with pytest.raises(InvalidToken):
        await decider.decide("GET", "/v1/events", [f"Bearer {token}"])


async def test_store_down_fails_closed() -> None:
    decider, reader, clock, _ = make()
    token = reader.add({"events:read"}, clock=clock)
    reader.down = True
    with pytest.raises(StoreUnavailable):
        await decider.decide("GET", "/v1/events", [f"Bearer {token}"])
    decider.ready = lambda: False
    with pytest.raises(StoreUnavailable):
        await decider.decide("GET", "/v1/events", [f"Bearer {token}"])


async def test_a_revocation_during_an_inflight_read_is_not_undone_by_the_cache() -> None:
    decider, reader, clock, validator = make()
    token = reader.add({"events:read"}, clock=clock)
    reader.gate = asyncio.Event()
    inflight = asyncio.ensure_future(decider.decide("GET", "/v1/events", [f"Bearer {token}"]))
    await asyncio.sleep(0.01)  # the token read is now waiting on the gate
    del reader.tokens[HASHER.hash(token)]  # revoked in the store ...
    validator.on_revocation(events.encode(TokenRevoked(HASHER.hash(token)), clock.now))  # ... announced, mid-read
    reader.gate.set()
    await inflight  # this request began before the revocation: it may pass
    reader.gate = None
    with pytest.raises(InvalidToken):  # but nothing it read was cached as valid
        await decider.decide("GET", "/v1/events", [f"Bearer {token}"])


@pytest.mark.parametrize("kind", ["token", "grant", "application", "user-application", "user"])
async def test_every_kind_of_revocation_reaches_a_warm_token(kind: str) -> None:
    """A token validated many times (the warm path) is refused, or loses the scope, as soon as a revocation of each
    kind is announced: the answer remembered for it is never used across a revocation."""
    decider, reader, clock, validator = make()
    token = reader.add({"events:read"}, clock=clock)
    for _ in range(3):
        await decider.decide("GET", "/v1/events", [f"Bearer {token}"])
    event: events.Revocation
    if kind == "token":
        del reader.tokens[HASHER.hash(token)]
        event = TokenRevoked(HASHER.hash(token))
    elif kind == "grant":
        del reader.grants["g1"]
        event = GrantRevoked("g1")
    elif kind == "application":  # the developer unticked events:read
        reader.apps["app1"] = AppState(frozenset({"events:write"}), 0)
        event = ApplicationChanged("app1")
    elif kind == "user-application":
        reader.ua_epoch = 1
        event = UserApplicationRevoked("u 1", "app1")
    else:
        reader.u_epoch = 1
        event = UserRevoked("u 1")
    validator.on_revocation(events.encode(event, clock.now))
    with pytest.raises(InsufficientScope if kind == "application" else InvalidToken):
        await decider.decide("GET", "/v1/events", [f"Bearer {token}"])


async def test_a_cached_result_is_no_older_than_its_oldest_fact() -> None:
    """max_age bounds every fact behind a warm answer, not the time the answer was first put together."""
    decider, reader, clock, _ = make()
    first = reader.add({"events:read"}, clock=clock)
    await decider.decide("GET", "/v1/events", [f"Bearer {first}"])  # grant, app and epochs read at t0
    clock.now += 50
    second = reader.add({"events:read"}, clock=clock)  # same grant: only its token record is read, at t0 + 50
    await decider.decide("GET", "/v1/events", [f"Bearer {second}"])
    reads = reader.reads
    clock.now += 5
    await decider.decide("GET", "/v1/events", [f"Bearer {second}"])
    assert reader.reads == reads  # t0 + 55: everything within 60 s
    clock.now += 6
    await decider.decide("GET", "/v1/events", [f"Bearer {second}"])
    assert reader.reads == reads + 1  # t0 + 61: the facts read at t0 are read again, though the token is 11 s old
