"""Registering, editing and deleting OAuth applications: field rules shared by the admin API and the tests."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from gateway.errors import Invalid, NotFound
from gateway.models import Application
from gateway.redirect_uri import RedirectUriError, parse_redirect_uri
from gateway.security import Hasher, TokenKind, mint, random_id
from gateway.store.base import ApplicationRegistry


@dataclass(frozen=True, slots=True)
class Registered:
    application: Application
    client_secret: str  # shown once, never stored raw


def validate_fields(
    fields: Mapping[str, object], catalog: Sequence[str], *, partial: bool
) -> dict[str, object]:
    """Check the editable fields; raises Invalid naming every bad field. Returns the normalized values."""
    problems: dict[str, str] = {}
    out: dict[str, object] = {}
    allowed = {"name", "redirect_uri", "server_side", "scopes", "published", "owner"}
    for key in fields:
        if key not in allowed:
            problems[key] = "unknown field"
    if "name" in fields or not partial:
        name = fields.get("name")
        if not isinstance(name, str) or not name.strip():
            problems["name"] = "must be a non-empty string"
        elif len(name) > 100:
            problems["name"] = "must be at most 100 characters"
        else:
            out["name"] = name.strip()
    if "redirect_uri" in fields or not partial:
        # Stored as parsed: the normalized form is the only one the store, the pages and the headers ever see.
        try:
            out["redirect_uri"] = str(parse_redirect_uri(fields.get("redirect_uri")))
        except RedirectUriError as exc:
            problems["redirect_uri"] = str(exc)
    for flag in ("server_side", "published"):
        if flag in fields:
            if not isinstance(fields[flag], bool):
                problems[flag] = "must be true or false"
            else:
                out[flag] = fields[flag]
    if "scopes" in fields:
        scopes = fields["scopes"]
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            problems["scopes"] = "must be a list of scope names"
        else:
            unknown = [s for s in scopes if s not in catalog]
            if unknown:
                problems["scopes"] = f"unknown scope(s): {', '.join(unknown)}"
            elif not scopes:
                problems["scopes"] = "tick at least one scope"
            else:
                out["scopes"] = tuple(s for s in catalog if s in scopes)
    if "owner" in fields or not partial:
        owner = fields.get("owner")
        if not isinstance(owner, str) or not owner.strip():
            problems["owner"] = "must be the user id of the registering user"
        else:
            out["owner"] = owner
    if problems:
        raise Invalid(problems)
    return out


async def register(
    store: ApplicationRegistry, hasher: Hasher, catalog: Sequence[str], fields: Mapping[str, object]
) -> Registered:
    values = validate_fields(fields, catalog, partial=False)
    now = time.time()
    app = Application(
        client_id=random_id(16),
        name=str(values["name"]),
        redirect_uri=str(values["redirect_uri"]),
        server_side=bool(values.get("server_side", True)),
        scopes=tuple(values.get("scopes", tuple(catalog))),  # type: ignore[arg-type]
        owner=str(values["owner"]),
        published=bool(values.get("published", False)),
        created_at=now,
        updated_at=now,
    )
    secret = mint(TokenKind.CLIENT_SECRET)
    await store.create_app(app, hasher.hash(secret))
    return Registered(app, secret)


async def edit(
    store: ApplicationRegistry, catalog: Sequence[str], client_id: str, fields: Mapping[str, object]
) -> Application:
    if "owner" in fields:
        raise Invalid({"owner": "cannot be changed"})
    values = validate_fields(fields, catalog, partial=True)
    app = await store.get_app(client_id)
    if app is None:
        raise NotFound(f"no application {client_id!r}")
    updated = replace(app, **values, updated_at=time.time())  # type: ignore[arg-type]
    if not await store.update_app(updated):
        raise NotFound(f"no application {client_id!r}")
    return updated
