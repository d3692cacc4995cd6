"""The audit record's vocabulary and its one writer: an append-only stream of who did what and when (never a
token or a secret). The admin API, the developer pages, Authorized Applications and the consent page record
with the same action names, so one query finds every change to an application whoever made it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from gateway.errors import StoreUnavailable
from gateway.services import Services

log = logging.getLogger("scopegate.audit")


class AuditAction(StrEnum):
    APPLICATION_CREATED = "application.created"
    APPLICATION_UPDATED = "application.updated"
    APPLICATION_DELETED = "application.deleted"
    APPLICATION_CLEANED_UP = "application.cleaned_up"
    SECRET_ROTATED = "application.secret_rotated"  # noqa: S105 - an action name
    AUTHORIZATION_GRANTED = "authorization.granted"
    AUTHORIZATION_REVOKED = "authorization.revoked"
    BULK_REVOCATION = "revocation.bulk"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: `user:<id>` for the account pages, the admin token's name for the admin API."""

    name: str
    request_id: str = ""
    on_behalf_of: str | None = None  # what an admin caller claims (X-On-Behalf-Of), recorded as claimed


async def record(services: Services, actor: Actor, action: AuditAction, **details: object) -> None:
    """Append one event. The change it describes has already happened, so a failed write is logged loudly rather
    than turned into an error that would make the caller retry a completed change."""
    event: dict[str, object] = {"action": str(action), "actor": actor.name, **details}
    if actor.on_behalf_of:
        event["on_behalf_of"] = actor.on_behalf_of
    event["request_id"] = actor.request_id
    try:
        await services.store.append_audit(event)
    except StoreUnavailable:
        log.error("audit event %s for %s could not be written (store unavailable)", action, details)
