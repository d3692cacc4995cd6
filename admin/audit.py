"""The audit record: an append-only Redis stream of who did what and when (never a token or a secret)."""

from __future__ import annotations

import logging

from aiohttp import web

from admin.auth import ACTOR, ON_BEHALF_OF
from gateway.errors import StoreUnavailable
from gateway.keys import REQUEST_ID, SERVICES

log = logging.getLogger("scopegate.audit")

# The actions this service records (the authorization server records `authorization.granted` the same way).
APPLICATION_CREATED = "application.created"
APPLICATION_UPDATED = "application.updated"
APPLICATION_DELETED = "application.deleted"
APPLICATION_CLEANED_UP = "application.cleaned_up"
SECRET_ROTATED = "application.secret_rotated"  # noqa: S105 - an action name
AUTHORIZATION_REVOKED = "authorization.revoked"
BULK_REVOCATION = "revocation.bulk"


async def record(request: web.Request, action: str, **details: object) -> None:
    """Append one event for an admin call. The change it describes has already happened, so a failure to audit
    is logged loudly rather than turned into an error response that would hide a completed change."""
    event: dict[str, object] = {"action": action, "actor": request[ACTOR], **details}
    claimed = request.get(ON_BEHALF_OF)
    if claimed:
        event["on_behalf_of"] = claimed
    event["request_id"] = request.get(REQUEST_ID, "")
    try:
        await request.app[SERVICES].store.append_audit(event)
    except StoreUnavailable:
        log.error("audit event %s for %s could not be written (store unavailable)", action, details)
