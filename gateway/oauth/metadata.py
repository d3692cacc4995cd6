"""Authorization server metadata (RFC 8414 §2-3). Every URL comes from `public_url`, never from the request's
Host, so a forged Host header cannot point clients elsewhere."""

from __future__ import annotations

import json

from aiohttp import web

from gateway.keys import SERVICES


async def metadata(request: web.Request) -> web.Response:
    settings = request.app[SERVICES].settings
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
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
    }
    return web.Response(text=json.dumps(body), content_type="application/json",
                        headers={"Cache-Control": "public, max-age=300"})
