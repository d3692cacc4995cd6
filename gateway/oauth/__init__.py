"""The OAuth 2.0 authorization server (RFC 6749, 7636, 7009, 7662, 8414, 9207) on the public listener: the
protocol endpoints and client authentication. Sign-in, sessions and the account pages are gateway/portal."""

from __future__ import annotations

from aiohttp import web

from gateway.errors import MethodNotAllowed
from gateway.keys import SERVICES


def setup_routes(app: web.Application) -> None:
    """Register the authorization server's routes (before the proxy's catch-all)."""
    from gateway.oauth import authorize, cors, introspection, metadata, revocation, token

    r = app.router
    services = app[SERVICES]
    documents = {
        "/.well-known/oauth-authorization-server": metadata.metadata,
        "/.well-known/oauth-protected-resource": metadata.protected_resource,
        services.settings.resource_metadata_path: metadata.protected_resource,
    }
    for path, handler in documents.items():
        r.add_get(path, handler, allow_head=True)
        r.add_route("OPTIONS", path, cors.preflight_public)
    r.add_get("/oauth/authorize", authorize.authorize)
    r.add_post("/oauth/consent", authorize.consent)
    r.add_post("/oauth/token", token.token)
    r.add_post("/oauth/revoke", revocation.revoke)
    r.add_post("/oauth/introspect", introspection.introspect)
    for path in ("/oauth/token", "/oauth/revoke"):  # called with fetch() by single-page apps
        r.add_route("OPTIONS", path, cors.preflight)
    for path in ("/oauth/token", "/oauth/revoke", "/oauth/introspect"):
        r.add_route("GET", path, _post_only)  # 405 with Allow: POST, not the proxy's 404


async def _post_only(request: web.Request) -> web.StreamResponse:
    raise MethodNotAllowed(f"{request.path} accepts only POST", allow="POST")
