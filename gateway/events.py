"""Revocation events: what the store publishes after a change and what each process drops from its caches.

Typed on both sides and encoded as JSON on the wire, so an identifier is one JSON string whatever it contains (a
user id with a space used to split into two words and name nothing). The same events drive local invalidation:
the process that made a change drops its own cached facts at once, without waiting for its own message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class TokenRevoked:
    kind: ClassVar[str] = "token"
    token_hash: str


@dataclass(frozen=True, slots=True)
class GrantRevoked:
    kind: ClassVar[str] = "grant"
    grant_id: str


@dataclass(frozen=True, slots=True)
class ApplicationChanged:
    """Edited, deleted or revoked as a whole: every process re-reads the application's state."""

    kind: ClassVar[str] = "application"
    client_id: str


@dataclass(frozen=True, slots=True)
class UserApplicationRevoked:
    kind: ClassVar[str] = "user_application"
    user_id: str
    client_id: str


@dataclass(frozen=True, slots=True)
class UserRevoked:
    kind: ClassVar[str] = "user"
    user_id: str


Revocation = TokenRevoked | GrantRevoked | ApplicationChanged | UserApplicationRevoked | UserRevoked

_KINDS: dict[str, type[Revocation]] = {
    cls.kind: cls for cls in (TokenRevoked, GrantRevoked, ApplicationChanged, UserApplicationRevoked, UserRevoked)
}


class MalformedEvent(ValueError):
    """A message on the revocation channel that names no known event."""


def encode(event: Revocation, published_at: float) -> str:
    """The wire form: one JSON object with the event's kind, its fields and the publish time (which lets every
    subscriber measure propagation delay)."""
    wire: dict[str, object] = {"kind": event.kind, "ts": round(published_at, 6)}
    wire.update({f.name: getattr(event, f.name) for f in fields(event)})
    return json.dumps(wire, separators=(",", ":"))


def decode(message: str | bytes) -> tuple[Revocation, float | None]:
    """The event and its publish time (None when absent); MalformedEvent for anything else."""
    try:
        data = json.loads(message)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent("not JSON") from exc
    if not isinstance(data, dict):
        raise MalformedEvent("not a JSON object")
    kind = data.pop("kind", None)
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise MalformedEvent("unknown kind")
    ts = data.pop("ts", None)
    names = {f.name for f in fields(cls)}
    if set(data) != names or not all(isinstance(data[n], str) for n in names):
        raise MalformedEvent(f"{cls.kind}: fields must be exactly {sorted(names)} (strings)")
    published = float(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else None
    return cls(**data), published
