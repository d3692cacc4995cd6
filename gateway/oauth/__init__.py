"""The OAuth 2.0 authorization server (RFC 6749, 7636, 7009, 7662, 8414, 9207) on the public listener: the
protocol endpoints and client authentication. Sign-in, sessions and the account pages are gateway/portal."""

from __future__ import annotations

from aiohttp import web


def setup_routes(app: web.Application) -> None:
    """Register the authorization server's routes (before the proxy's catch-all)."""
    from gateway.oauth import authorize, introspection, metadata, revocation, token

    r = app.router
    r.add_get("/.well-known/oauth-authorization-server", metadata.metadata, allow_head=True)
    r.add_get("/oauth/authorize", authorize.authorize)
    r.add_post("/oauth/consent", authorize.consent)
    r.add_post("/oauth/token", token.token)
    r.add_post("/oauth/revoke", revocation.revoke)
    r.add_post("/oauth/introspect", introspection.introspect)
