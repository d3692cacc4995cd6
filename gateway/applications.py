"""OAuth applications: the field rules, and the one lifecycle service (register, edit, rotate the secret, delete
with clean-up) that the admin API and the developer pages both use, so both audit and invalidate the same way.

`register` and `edit` below are the bare store steps (tests and the benchmark seed data with them); the
`ApplicationService` adds what every caller owes after a change: the audit event and the local cache drop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from gateway import audit
from gateway.audit import Actor, AuditAction
from gateway.errors import Conflict, Invalid, NotFound, StoreUnavailable
from gateway.events import ApplicationChanged
from gateway.models import Application
from gateway.redirect_uri import RedirectUriError, check_kind, parse_redirect_uri
from gateway.security import Hasher, TokenKind, mint, random_id
from gateway.services import Services
from gateway.store.base import ApplicationRegistry

log = logging.getLogger("scopegate.applications")


@dataclass(frozen=True, slots=True)
class Registered:
    application: Application
    client_secret: str | None  # shown once, never stored raw; None for a public application (it has none)


@dataclass(frozen=True, slots=True)
class Edited:
    application: Application
    client_secret: str | None  # issued by this edit (Server-Side turned on): shown once, never stored raw


def validate_fields(
    fields: Mapping[str, object],
    catalog: Sequence[str],
    *,
    partial: bool,
    server_side: bool = True,
    redirect_uri: str | None = None,
) -> dict[str, object]:
    """Check the editable fields; raises Invalid naming every bad field. Returns the normalized values.

    `server_side` and `redirect_uri`: the application's current values (an edit): the redirect URI must suit the
    kind of application it ends up as (private-use schemes only with Server-Side off, `gateway.redirect_uri`)."""
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
    kind = out.get("server_side", server_side)
    uri = out.get("redirect_uri", redirect_uri)
    if isinstance(uri, str) and isinstance(kind, bool) and "server_side" not in problems:
        try:
            check_kind(parse_redirect_uri(uri), server_side=kind)
        except RedirectUriError as exc:
            problems["redirect_uri" if "redirect_uri" in out else "server_side"] = (
                str(exc)
                if "redirect_uri" in out
                else "cannot be turned on while the redirect URI uses a private-use scheme; change the redirect URI "
                "to an https URL first"
            )
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
        server_side=bool(values.get("server_side", True)),  # the default of the register form
        scopes=tuple(values.get("scopes", tuple(catalog))),  # type: ignore[arg-type]
        owner=str(values["owner"]),
        published=bool(values.get("published", False)),
        created_at=now,
        updated_at=now,
    )
    # A public application (Server-Side off) has no secret: PKCE instead. One is issued if Server-Side is turned
    # on later (ApplicationService.edit).
    secret = mint(TokenKind.CLIENT_SECRET) if app.server_side else None
    await store.create_app(app, hasher.hash(secret) if secret is not None else None)
    return Registered(app, secret)


async def edit(
    store: ApplicationRegistry, catalog: Sequence[str], client_id: str, fields: Mapping[str, object]
) -> Application:
    if "owner" in fields:
        raise Invalid({"owner": "cannot be changed"})
    app = await store.get_app(client_id)
    if app is None:
        raise NotFound(f"no application {client_id!r}")
    values = validate_fields(fields, catalog, partial=True, server_side=app.server_side, redirect_uri=app.redirect_uri)
    updated = replace(app, **values, updated_at=time.time())  # type: ignore[arg-type]
    if not await store.update_app(updated):
        raise NotFound(f"no application {client_id!r}")
    return updated


@dataclass(frozen=True, slots=True)
class RotatedSecret:
    client_id: str
    client_secret: str  # shown once, never stored raw
    previous_valid_until: float | None  # the old secret's end of grace (None: it stopped at once)


class ApplicationService:
    """The application lifecycle with its side effects. Every change reaches live tokens at once: the store
    publishes it to every process, and this process drops its own cached facts now instead of waiting for its own
    message to come back (so an unticked scope is refused on the very next request)."""

    def __init__(self, services: Services) -> None:
        self._services = services

    @property
    def catalog(self) -> list[str]:
        return list(self._services.settings.scopes)

    async def register(self, actor: Actor, fields: Mapping[str, object]) -> Registered:
        reg = await register(self._services.store, self._services.hasher, self.catalog, fields)
        app = reg.application
        await audit.record(
            self._services,
            actor,
            AuditAction.APPLICATION_CREATED,
            client_id=app.client_id,
            name=app.name,
            owner=app.owner,
            scopes=list(app.scopes),
        )
        return reg

    async def edit(
        self, actor: Actor, client_id: str, fields: Mapping[str, object], *, before: Application | None = None
    ) -> Edited:
        """Apply `fields`; NotFound if the application is gone, Invalid naming each bad field.

        Turning Server-Side on issues a client secret (the rotation path, shown once: `Edited.client_secret`);
        turning it off deletes every secret (a public client has none, and one it sends is refused anyway)."""
        if before is None:
            before = await self._services.store.get_app(client_id)
            if before is None:
                raise NotFound(f"no application {client_id!r}")
        after = await edit(self._services.store, self.catalog, client_id, fields)
        secret: str | None = None
        if after.server_side and not before.server_side:
            await self._services.store.delete_secrets(client_id)  # nothing from its public days survives
            secret = (await self.rotate_secret(actor, client_id)).client_secret
        elif before.server_side and not after.server_side:
            await self._services.store.delete_secrets(client_id)
            await audit.record(
                self._services, actor, AuditAction.SECRET_ROTATED, client_id=client_id, grace_seconds=0, deleted=True
            )
        self._services.validator.invalidate(ApplicationChanged(client_id))
        old, new = before.public_dict(), after.public_dict()
        changes = {k: {"from": old[k], "to": new[k]} for k in fields if k in new and old[k] != new[k]}
        await audit.record(self._services, actor, AuditAction.APPLICATION_UPDATED, client_id=client_id, changes=changes)
        return Edited(after, secret)

    async def rotate_secret(self, actor: Actor, client_id: str) -> RotatedSecret:
        """A new secret; the old one keeps working for `secret_grace_period` seconds. NotFound if gone; Conflict
        for a public application (it has no secret: turn Server-Side on, which issues one)."""
        services = self._services
        app = await services.store.get_app(client_id)
        if app is None:
            raise NotFound(f"no application {client_id!r}")
        if not app.server_side:
            raise Conflict(
                "this application is public (Server-Side off) and has no client secret; turn "
                "Server-Side on to issue one"
            )
        grace = services.settings.secret_grace_period
        secret = mint(TokenKind.CLIENT_SECRET)
        if not await services.store.rotate_secret(client_id, services.hasher.hash(secret), grace):
            raise NotFound(f"no application {client_id!r}")
        valid_until = time.time() + grace if grace > 0 else None
        await audit.record(services, actor, AuditAction.SECRET_ROTATED, client_id=client_id, grace_seconds=grace)
        return RotatedSecret(client_id, secret, valid_until)

    async def delete(self, actor: Actor, client_id: str) -> float:
        """Delete the application and schedule the clean-up of its grants; NotFound if gone. Returns the seconds
        until every token of it was refused.

        One atomic store step (application, secrets, registry entry) plus one published message: every token,
        refresh token and code of the application fails validation from here on, however many. Nothing is
        scanned; the clean-up only reclaims memory and drops users' Authorized Applications rows."""
        services = self._services
        started = time.perf_counter()
        if not await services.store.delete_app(client_id):
            raise NotFound(f"no application {client_id!r}")
        services.validator.invalidate(ApplicationChanged(client_id))
        elapsed = time.perf_counter() - started
        services.spawn(self._clean_up(actor, client_id), f"cleanup-{client_id}")
        await audit.record(services, actor, AuditAction.APPLICATION_DELETED, client_id=client_id)
        return elapsed

    async def _clean_up(self, actor: Actor, client_id: str) -> None:
        store = self._services.store
        try:
            removed = await store.cleanup_app(client_id)
            await store.append_audit(
                {
                    "action": str(AuditAction.APPLICATION_CLEANED_UP),
                    "actor": actor.name,
                    "client_id": client_id,
                    "grants": removed,
                }
            )
        except StoreUnavailable:
            log.warning("clean-up of deleted application %s interrupted (store unavailable)", client_id)
        except Exception:
            log.exception("clean-up of deleted application %s failed", client_id)
