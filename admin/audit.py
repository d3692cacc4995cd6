"""The admin API's side of the audit record (gateway/audit.py): who the caller is, and the same action names as
every other writer."""

from __future__ import annotations

from aiohttp import web

from admin.auth import ACTOR, ON_BEHALF_OF
from gateway import audit
from gateway.audit import Actor, AuditAction
from gateway.keys import REQUEST_ID, SERVICES

APPLICATION_CREATED = AuditAction.APPLICATION_CREATED
APPLICATION_UPDATED = AuditAction.APPLICATION_UPDATED
APPLICATION_DELETED = AuditAction.APPLICATION_DELETED
APPLICATION_CLEANED_UP = AuditAction.APPLICATION_CLEANED_UP
SECRET_ROTATED = AuditAction.SECRET_ROTATED
AUTHORIZATION_REVOKED = AuditAction.AUTHORIZATION_REVOKED
BULK_REVOCATION = AuditAction.BULK_REVOCATION


def actor(request: web.Request) -> Actor:
    """The admin caller: its token's name, what it claims to act for (X-On-Behalf-Of) and the request id."""
    return Actor(request[ACTOR], request.get(REQUEST_ID, ""), request.get(ON_BEHALF_OF) or None)


async def record(request: web.Request, action: AuditAction, **details: object) -> None:
    """Append one event for an admin call (see gateway.audit.record: a failed write is logged, not raised)."""
    await audit.record(request.app[SERVICES], actor(request), action, **details)
