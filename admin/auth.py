"""Admin authentication: `Authorization: Bearer <admin token>` (RFC 6750 §2.1), compared in constant time.

Several tokens may be configured (SCOPEGATE_ADMIN_TOKEN, comma-separated) so they can be rotated.
With none configured every admin call is refused (fail closed). The audit record names the caller
by the index of the token it presented, never by the token itself.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from gateway import errors
from gateway.keys import SERVICES

ACTOR = web.RequestKey("admin_actor", str)
ON_BEHALF_OF = web.RequestKey("admin_on_behalf_of", str)

# Served without a token: only the Prometheus scrape (gateway issue: "GET /metrics on the admin listener"). It
# carries counters and latencies, never an id, token or secret, and the admin listener is loopback by default.
OPEN_PATHS: frozenset[str] = frozenset({"/metrics"})
# The portal may say which of its users acted; recorded in the audit as a claim, never trusted for access.
_ON_BEHALF_OF = re.compile(r"^[A-Za-z0-9._@:+\-]{1,64}$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def match_admin_token(presented: str, configured: Sequence[str]) -> int | None:
    """Index of the configured token equal to `presented`, or None. Compares every candidate."""
    given = presented.encode("utf-8")
    found: int | None = None
    for i, token in enumerate(configured):
        if hmac.compare_digest(given, token.encode("utf-8")) and found is None:
            found = i
    return found


def actor_name(index: int) -> str:
    return f"admin-token-{index}"


@web.middleware
async def admin_auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in OPEN_PATHS:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        raise errors.MissingCredentials("an admin bearer token is required")
    configured = request.app[SERVICES].settings.admin_tokens
    index = match_admin_token(credentials, configured)
    if index is None:
        raise errors.InvalidToken("the admin token is not valid", reason="bad_admin_token")
    request[ACTOR] = actor_name(index)
    claimed = request.headers.get("X-On-Behalf-Of", "")
    if _ON_BEHALF_OF.match(claimed):
        request[ON_BEHALF_OF] = claimed
    return await handler(request)
