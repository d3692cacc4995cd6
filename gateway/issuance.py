"""Minting grants and tokens (RFC 6749 §5.1): the one place that creates access and refresh tokens.

Each issuance is one store step that checks what authorizes it and writes the grant and both tokens together: a new
grant reads the epochs it records (and, for a code exchange, checks the user's consent) inside that step; a refresh
writes only while the grant's epochs are still current. A revocation therefore lands wholly before (nothing issued,
or tokens born dead) or wholly after (it kills what was issued): never in between."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

from gateway.errors import InvalidGrant, InvalidToken
from gateway.models import AccessTokenRecord, Grant, IssueRefused, RefreshTokenRecord
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
    require_consent: bool = False,
) -> IssuedTokens:
    """A new grant under the current epochs, with its first access and refresh tokens. With `require_consent` (the
    code exchange), the user's consent must still cover `scopes` in the same atomic step."""
    scope_set = frozenset(scopes)
    refresh = mint(TokenKind.REFRESH)
    access = mint(TokenKind.ACCESS)
    now = int(time.time())
    grant = Grant(
        grant_id=f"{client_id}.{random_id(12)}",  # keyed in its application's hash slot (keyspace.grant)
        client_id=client_id,
        user_id=user_id,
        scopes=scope_set,
        created_at=now,
        app_epoch=0,  # read by the store in the issuing step
        user_app_epoch=0,
        user_epoch=0,
        refresh_hash=hasher.hash(refresh),
    )
    written = await store.start_issued(
        grant,
        refresh_ttl,
        hasher.hash(access),
        AccessTokenRecord(grant.grant_id, client_id, user_id, scope_set, now, now + access_ttl),
        RefreshTokenRecord(grant.grant_id, now + refresh_ttl),
        require_consent=require_consent,
    )
    if written is IssueRefused.APP_DELETED:
        raise InvalidToken("the application no longer exists", reason="app_deleted")
    if isinstance(written, IssueRefused):
        raise InvalidGrant("the authorization behind the code parameter has been revoked")
    return IssuedTokens(access, refresh, access_ttl, tuple(sorted(scope_set)), written)


async def continue_grant(
    store: TokenStore,
    hasher: Hasher,
    grant: Grant,
    scopes: Iterable[str],
    *,
    access_ttl: int,
    refresh_ttl: int,
) -> IssuedTokens:
    """Refresh: a new access token and a rotated refresh token within an existing grant, written only while the
    grant exists and nothing has revoked it (its epochs are still current)."""
    refresh = mint(TokenKind.REFRESH)
    access = mint(TokenKind.ACCESS)
    grant = replace(grant, refresh_hash=hasher.hash(refresh))
    scope_set = frozenset(scopes)
    now = int(time.time())
    ok = await store.continue_issued(
        grant,
        refresh_ttl,
        hasher.hash(access),
        AccessTokenRecord(grant.grant_id, grant.client_id, grant.user_id, scope_set, now, now + access_ttl),
        RefreshTokenRecord(grant.grant_id, now + refresh_ttl),
    )
    if not ok:
        raise InvalidGrant("the grant of the refresh_token parameter has been revoked")
    return IssuedTokens(access, refresh, access_ttl, tuple(sorted(scope_set)), grant)
