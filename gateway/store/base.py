"""What each consumer needs of the store, as Protocols: the seams that let a part be read, typed and tested alone.

`RedisStore` (redis_store.py) provides all of them; the proxy's validator sees only `TokenReader`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from gateway.models import AccessTokenRecord, AppState, Grant


class TokenReader(Protocol):
    """All the data plane reads: a token's facts, what they are checked against, and revocation news."""

    # Plain methods returning awaitables: the adapter's methods are wrapped (failures -> StoreUnavailable).
    def get_access_token(self, token_hash: str) -> Awaitable[AccessTokenRecord | None]: ...

    def validation_facts(
        self, grant_id: str, client_id: str, user_id: str
    ) -> Awaitable[tuple[Grant | None, AppState | None, int, int]]: ...

    def listen_revocations(
        self, on_message: Callable[[str], None], on_state: Callable[[bool], None], *, ping_interval: float = 1.0
    ) -> Awaitable[None]: ...
