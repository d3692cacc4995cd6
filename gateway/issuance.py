"""Minting grants and tokens (RFC 6749 §5.1): the one place that creates access and refresh tokens."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

from gateway.errors import InvalidToken
from gateway.models import AccessTokenRecord, Grant, RefreshTokenRecord
from gateway.security import Hasher, TokenKind, mint, random_id
from gateway.store.base import TokenStore


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    scopes: tuple[str, ...]
    grant: Grant


async def start_grant(
    store: TokenStore,
    hasher: Hasher,
    *,
    client_id: str,
    user_id: str,
    scopes: Iterable[str],
    access_ttl: int,
    refresh_ttl: int,
) -> IssuedTokens:
    """A new grant under the current epochs, with its first access and refresh tokens."""
    epochs = await store.current_epochs_for(user_id, client_id)
    if epochs is None:
        raise InvalidToken("the application no longer exists", reason="app_deleted")
    app_epoch, ua_epoch, u_epoch = epochs
    scope_set = frozenset(scopes)
    refresh = mint(TokenKind.REFRESH)
    grant = Grant(
        grant_id=random_id(12),
        client_id=client_id,
        user_id=user_id,
        scopes=scope_set,
        created_at=int(time.time()),
        app_epoch=app_epoch,
        user_app_epoch=ua_epoch,
        user_epoch=u_epoch,
        refresh_hash=hasher.hash(refresh),
    )
    return await _tokens_for(store, hasher, grant, scope_set, refresh, access_ttl, refresh_ttl, new_grant=True)


async def continue_grant(
    store: TokenStore,
    hasher: Hasher,
    grant: Grant,
    scopes: Iterable[str],
    *,
    access_ttl: int,
    refresh_ttl: int,
) -> IssuedTokens:
    """Refresh: a new access token and a rotated refresh token within an existing grant."""
    refresh = mint(TokenKind.REFRESH)
    grant = replace(grant, refresh_hash=hasher.hash(refresh))
    return await _tokens_for(store, hasher, grant, frozenset(scopes), refresh, access_ttl, refresh_ttl, new_grant=False)


async def _tokens_for(
    store: TokenStore,
    hasher: Hasher,
    grant: Grant,
    scopes: frozenset[str],
    refresh: str,
    access_ttl: int,
    refresh_ttl: int,
    *,
    new_grant: bool,
) -> IssuedTokens:
    """Write the grant (new, or with its rotated refresh hash) and both tokens in one atomic step."""
    now = int(time.time())
    access = mint(TokenKind.ACCESS)
    await store.save_issued(
        grant,
        refresh_ttl,
        hasher.hash(access),
        AccessTokenRecord(grant.grant_id, grant.client_id, grant.user_id, scopes, now, now + access_ttl),
        RefreshTokenRecord(grant.grant_id, now + refresh_ttl),
        new_grant=new_grant,
    )
    ordered = tuple(sorted(scopes))
    return IssuedTokens(access, refresh, access_ttl, ordered, grant)
