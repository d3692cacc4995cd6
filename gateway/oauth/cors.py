"""CORS for browser apps: single-page apps call the token and revocation endpoints with `fetch()` from their own
origin, and anyone may read the metadata documents.

- `POST /oauth/token`, `POST /oauth/revoke`: `Access-Control-Allow-Origin` is the request's `Origin` only when it
  is the origin of the registered redirect URI of the application the form's `client_id` names;
  exactly that origin (for a loopback redirect URI too: its port is part of the origin). Errors carry it as well,
  so the app can read `invalid_grant`. Never `Access-Control-Allow-Credentials`: these endpoints use no cookies.
- Preflights (`OPTIONS`) carry no body, hence no client_id: they are answered for any origin, and the policy is
  enforced on the actual request, whose response a browser lets only the registered origin read. The preflight
  grants nothing new: a form-urlencoded POST is a CORS "simple request" that needs no preflight at all.
- `GET /.well-known/...` (metadata, protected resource metadata, JWKS): `*` (public documents, no credentials).
- Every answer varies by `Origin` (`Vary: Origin`). The browser pages (authorize, consent, sign-in, account,
  developer) never carry CORS headers.
"""

from __future__ import annotations

from aiohttp import web
from multidict import MultiMapping

from gateway.keys import CORS_ALLOW, SERVICES
from gateway.redirect_uri import RedirectUriError, parse_redirect_uri

ANY = "*"
_PREFLIGHT_MAX_AGE = "600"


def vary(request: web.Request) -> None:
    """This endpoint's answers depend on `Origin`: say so, even when no origin is allowed."""
    request.setdefault(CORS_ALLOW, "")


async def allow_app_origin(request: web.Request, form: MultiMapping[str]) -> None:
    """Let the request's Origin read the response when it is the origin of the redirect URI of the application
    the form names (`client_id`: browser apps are public clients, which never use HTTP Basic)."""
    vary(request)
    origin = request.headers.get("Origin")
    values = form.getall("client_id", [])
    client_id = values[0] if len(values) == 1 else None
    if not origin or not client_id or len(client_id) > 128:
        return
    app = await request.app[SERVICES].store.get_app(client_id)
    if app is None:
        return
    try:
        registered = parse_redirect_uri(app.redirect_uri)
    except RedirectUriError:
        return
    if not registered.private_use and origin == registered.origin:
        request[CORS_ALLOW] = origin


async def preflight(request: web.Request) -> web.Response:
    """`OPTIONS` on the token and revocation endpoints: allowed for any origin (see the module docstring)."""
    origin = request.headers.get("Origin")
    headers = {"Vary": "Origin", "Cache-Control": "no-store"}
    if origin:
        headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": _PREFLIGHT_MAX_AGE,
            }
        )
    return web.Response(status=204, headers=headers)


async def preflight_public(request: web.Request) -> web.Response:
    """`OPTIONS` on a public document: any origin may GET it."""
    headers = {"Vary": "Origin"}
    if request.headers.get("Origin"):
        headers.update(
            {
                "Access-Control-Allow-Origin": ANY,
                "Access-Control-Allow-Methods": "GET, HEAD",
                "Access-Control-Max-Age": _PREFLIGHT_MAX_AGE,
            }
        )
    return web.Response(status=204, headers=headers)
