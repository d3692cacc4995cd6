"""The OAuth 2.0 authorization server (RFC 6749, 7636, 7009, 7662, 8414, 9207) on the public listener."""

from __future__ import annotations

from aiohttp import web


def setup_routes(app: web.Application) -> None:
    """Register the authorization server's and the account pages' routes (before the proxy's catch-all)."""
    from gateway.oauth import account, authorize, developer, introspection, login, metadata, revocation, token

    login.setup(app)
    r = app.router
    r.add_get("/.well-known/oauth-authorization-server", metadata.metadata, allow_head=True)
    r.add_get("/oauth/authorize", authorize.authorize)
    r.add_post("/oauth/consent", authorize.consent)
    r.add_get("/oauth/login", login.login_page)
    r.add_post("/oauth/login", login.login_submit)
    r.add_post("/oauth/logout", login.logout)
    r.add_post("/oauth/token", token.token)
    r.add_post("/oauth/revoke", revocation.revoke)
    r.add_post("/oauth/introspect", introspection.introspect)
    r.add_get(account.PATH, account.list_authorized)
    r.add_post(account.PATH + "/{client_id}/revoke", account.revoke_authorized)
    developer.setup_routes(app)
