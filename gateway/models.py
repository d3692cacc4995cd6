"""Frozen value types shared by the proxy, the authorization server and the admin service."""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Application:
    """A registered OAuth application. The client secret is never part of it (only its keyed hash is stored)."""

    client_id: str
    name: str
    redirect_uri: str
    server_side: bool
    scopes: tuple[str, ...]  # ticked scopes, in catalog order
    owner: str
    published: bool
    created_at: float
    updated_at: float
    epoch: int = 0  # bumped by a bulk revocation of the whole client

    @property
    def client_type(self) -> str:
        """RFC 6749 §2.1: "confidential" (Server-Side on: a client secret) or "public" (PKCE, no secret)."""
        return "confidential" if self.server_side else "public"

    @property
    def auth_methods(self) -> tuple[str, ...]:
        """How it authenticates at the token and revocation endpoints (RFC 8414 names)."""
        return ("client_secret_basic", "client_secret_post") if self.server_side else ("none",)

    def public_dict(self) -> dict[str, object]:
        return {
            "client_id": self.client_id,
            "name": self.name,
            "redirect_uri": self.redirect_uri,
            "server_side": self.server_side,
            "client_type": self.client_type,
            "token_endpoint_auth_methods": list(self.auth_methods),
            "scopes": list(self.scopes),
            "owner": self.owner,
            "published": self.published,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class AppState:
    """What validation needs of an application: its ticked scopes now, and its revocation epoch."""

    scopes: frozenset[str]
    epoch: int


@dataclass(frozen=True, slots=True)
class Grant:
    """One authorization-code redemption and the refresh-token chain that follows it."""

    grant_id: str
    client_id: str
    user_id: str
    scopes: frozenset[str]
    created_at: int
    app_epoch: int
    user_app_epoch: int
    user_epoch: int
    refresh_hash: str = ""  # the current (unrotated) refresh token's keyed hash, for clean-up


@dataclass(frozen=True, slots=True)
class AccessTokenRecord:
    """The stored facts of one access token (never the token itself)."""

    grant_id: str
    client_id: str
    user_id: str
    scopes: frozenset[str]
    issued_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class RefreshTokenRecord:
    grant_id: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class PendingCode:
    """An issued authorization code, bound to client, redirect URI, user and PKCE challenge (RFC 7636 §4.4)."""

    client_id: str
    user_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    expires_at: int
    redirect_uri_given: bool = True  # False: the authorization request omitted it (one registered URI)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a validated bearer token speaks for, with its effective scopes (token ∩ application's ticked now)."""

    user_id: str
    client_id: str
    grant_id: str
    scopes: frozenset[str]
    issued_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class Authorization:
    """A user's standing authorization of one application (the Authorized Applications row)."""

    user_id: str
    client_id: str
    scopes: tuple[str, ...]
    authorized_at: float
    last_used: float | None = None


class IssueRefused(enum.Enum):
    """Why the issuance step wrote nothing."""

    APP_DELETED = "app_deleted"  # the application no longer exists
    NOT_AUTHORIZED = "not_authorized"  # no consent covering the scopes, or it predates a revocation
