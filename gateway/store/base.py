"""What each consumer needs of the store, as Protocols, one per capability: the seams that let a part be read,
typed and tested alone.

The Redis adapter (`gateway.store.redis`) provides every one of them; the composition root builds it and hands each
consumer the view it needs (the proxy's validator sees only `TokenReader`). Every method fails with
`StoreUnavailable` when the store cannot be reached in time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from gateway.events import Revocation
from gateway.models import (
    AccessTokenRecord,
    Application,
    AppState,
    Authorization,
    Grant,
    IssueRefused,
    PendingCode,
    RefreshTokenRecord,
)

RevocationHandler = Callable[[str], None]
StateHandler = Callable[[bool], None]


class TokenReader(Protocol):
    """All the data plane reads: a token's facts, what they are checked against, and revocation news."""

    async def get_access_token(self, token_hash: str) -> AccessTokenRecord | None: ...

    async def validation_facts(
        self, grant_id: str, client_id: str, user_id: str
    ) -> tuple[Grant | None, AppState | None, int, int]: ...

    async def listen_revocations(
        self, on_message: RevocationHandler, on_state: StateHandler, *, liveness_timeout: float = 1.0
    ) -> None: ...


class StoreLifecycle(Protocol):
    """Start-up, health and shut-down of the store itself."""

    async def ping(self) -> float: ...

    async def detect_replicas(self) -> int: ...

    async def init_scopes(self, catalog: Iterable[str]) -> None: ...

    async def close(self) -> None: ...


class ApplicationRegistry(Protocol):
    """Registered OAuth applications and their client secrets (only keyed hashes)."""

    async def create_app(self, app: Application, secret_hash: str | None) -> None: ...

    async def get_app(self, client_id: str) -> Application | None: ...

    async def list_apps(self, owner: str | None = None) -> list[Application]: ...

    async def update_app(self, app: Application) -> bool: ...

    async def delete_app(self, client_id: str) -> bool: ...

    async def cleanup_app(self, client_id: str, batch: int = 500) -> int: ...

    async def pending_cleanups(self) -> list[str]: ...

    async def app_state(self, client_id: str) -> AppState | None: ...

    async def secret_hashes(self, client_id: str) -> list[str]: ...

    async def rotate_secret(self, client_id: str, new_hash: str, grace_seconds: float) -> bool: ...

    async def delete_secrets(self, client_id: str) -> None: ...


class TokenStore(Protocol):
    """Grants, access and refresh tokens, and refresh-token rotation."""

    async def current_epochs_for(self, user_id: str, client_id: str) -> tuple[int, int, int] | None: ...

    async def start_issued(
        self,
        grant: Grant,
        grant_ttl: int,
        access_hash: str,
        access: AccessTokenRecord,
        refresh: RefreshTokenRecord,
        *,
        require_consent: bool,
    ) -> Grant | IssueRefused: ...

    async def continue_issued(
        self,
        grant: Grant,
        grant_ttl: int,
        access_hash: str,
        access: AccessTokenRecord,
        refresh: RefreshTokenRecord,
    ) -> bool: ...

    async def save_grant(self, g: Grant, ttl_seconds: int) -> None: ...

    async def get_grant(self, grant_id: str) -> Grant | None: ...

    async def revoke_grant(self, grant_id: str) -> bool: ...

    async def save_access_token(self, token_hash: str, rec: AccessTokenRecord) -> None: ...

    async def save_access_tokens(self, items: list[tuple[str, AccessTokenRecord]]) -> None: ...

    async def get_access_token(self, token_hash: str) -> AccessTokenRecord | None: ...

    async def revoke_access_token(self, token_hash: str) -> bool: ...

    async def save_refresh_token(self, token_hash: str, rec: RefreshTokenRecord) -> None: ...

    async def get_refresh_token(self, token_hash: str) -> RefreshTokenRecord | None: ...

    async def consume_refresh_token(self, token_hash: str) -> tuple[RefreshTokenRecord | None, str | None]: ...


class AuthorizationCodes(Protocol):
    """Authorization codes: single use, and the grant each redemption produced (for replay detection)."""

    async def save_code(self, code_hash: str, pending: PendingCode) -> None: ...

    async def redeem_code(self, code_hash: str) -> PendingCode | None: ...

    async def mark_code_grant(self, code_hash: str, grant_id: str) -> bool: ...

    async def code_replay_grant(self, code_hash: str) -> str | None: ...


class UserAuthorizations(Protocol):
    """Consents (Authorized Applications), their last use, and revocation by user, application or both."""

    async def record_authorization(self, auth: Authorization) -> None: ...

    async def list_authorizations(self, user_id: str) -> list[Authorization]: ...

    async def get_authorization(self, user_id: str, client_id: str) -> Authorization | None: ...

    async def touch_last_used(self, user_id: str, client_id: str, ts: float) -> None: ...

    async def revoke_user_app(self, user_id: str, client_id: str) -> bool: ...

    async def revoke_user(self, user_id: str) -> int: ...

    async def revoke_client(self, client_id: str) -> int: ...


class EphemeralRecords(Protocol):
    """Short-lived JSON records with a TTL (sessions, pending consent)."""

    async def put_ephemeral(self, namespace: str, key: str, value: dict[str, Any], ttl_seconds: int) -> None: ...

    async def get_ephemeral(self, namespace: str, key: str) -> dict[str, Any] | None: ...

    async def take_ephemeral(self, namespace: str, key: str) -> dict[str, Any] | None: ...

    async def delete_ephemeral(self, namespace: str, key: str) -> None: ...


class Counters(Protocol):
    """Fixed-window counters for throttling."""

    async def hit_counter(self, namespace: str, key: str, window_seconds: int, amount: int = 1) -> int: ...

    async def counter_value(self, namespace: str, key: str) -> tuple[int, int]: ...


class AuditLog(Protocol):
    """The append-only audit record, read newest first."""

    async def append_audit(self, event: dict[str, Any]) -> str: ...

    async def read_audit(self, count: int = 100, before: str | None = None) -> list[dict[str, Any]]: ...


class RevocationBus(Protocol):
    """Revocation news between processes: what a write invalidated, so every local cache drops it."""

    async def publish(self, event: Revocation) -> None: ...

    async def listen_revocations(
        self, on_message: RevocationHandler, on_state: StateHandler, *, liveness_timeout: float = 1.0
    ) -> None: ...


class Store(
    StoreLifecycle,
    ApplicationRegistry,
    TokenStore,
    AuthorizationCodes,
    UserAuthorizations,
    EphemeralRecords,
    Counters,
    AuditLog,
    RevocationBus,
    TokenReader,
    Protocol,
):
    """Every capability at once: what the composition root builds and hands out, one view per consumer."""
