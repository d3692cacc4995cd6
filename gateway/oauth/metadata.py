"""Authorization server metadata (RFC 8414 §2-3) and protected resource metadata (RFC 9728 §2-3). Every URL comes
from `public_url`, never from the request's Host, so a forged Host header cannot point clients elsewhere. Both are
public documents any origin may read (CORS `*`, gateway.oauth.cors)."""

from __future__ import annotations

import json

from aiohttp import web

from gateway.keys import CORS_ALLOW, SERVICES
from gateway.oauth.cors import ANY


async def metadata(request: web.Request) -> web.Response:
    settings = request.app[SERVICES].settings
    request[CORS_ALLOW] = ANY
    base = settings.issuer
    body = {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "introspection_endpoint": f"{base}/oauth/introspect",
        "scopes_supported": [*settings.scopes, *settings.scope_aliases],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        # Server-side (confidential) applications use their secret; public ones (Server-Side off) send only their
        # client_id ("none") with PKCE, and cannot introspect (gateway.oauth.clientauth).
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
    }
    return web.Response(
        text=json.dumps(body), content_type="application/json", headers={"Cache-Control": "public, max-age=300"}
    )


async def protected_resource(request: web.Request) -> web.Response:
    """RFC 9728: the API behind the gateway (at `public_url`), who issues its tokens, and the scopes its routes
    require (in catalog order). Named by `resource_metadata` in every 401/403 challenge of the proxy."""
    settings = request.app[SERVICES].settings
    request[CORS_ALLOW] = ANY
    required = {s for route in settings.routes for s in route.scopes}
    body = {
        "resource": settings.issuer,
        "authorization_servers": [settings.issuer],
        "scopes_supported": [s for s in settings.scopes if s in required],
        "bearer_methods_supported": ["header"],
        "resource_name": settings.realm,
    }
    return web.Response(
        text=json.dumps(body), content_type="application/json", headers={"Cache-Control": "public, max-age=300"}
    )
