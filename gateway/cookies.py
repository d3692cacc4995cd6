"""Names of the cookies the gateway's own pages set: one list, so the proxy can keep them from the upstream."""

from __future__ import annotations

SESSION = "sg_session"
SESSION_SECURE = "__Host-sg_session"  # under https: Secure, host-only, Path=/
LOGIN_NONCE = "sg_login"

GATEWAY_COOKIES = frozenset({SESSION, SESSION_SECURE, LOGIN_NONCE, "__Host-" + LOGIN_NONCE})
