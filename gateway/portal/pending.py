"""The client and redirect URI of an authorization request, verified: the one function that decides where the
browser may end up after the forms on the way to the client (sign-in, consent).

`/oauth/authorize` verifies every request with `verify_client` before anything may redirect; the sign-in page
(whose `next` is the pending `/oauth/authorize?...`) and the consent page name the same verified URI in their CSP
`form-action` (`form_target`), because Chromium applies `form-action` to every redirect after a form submission:
sign-in -> /oauth/authorize -> the client (a returning user's code, or `access_denied`) must be allowed all the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web
from multidict import MultiDict, MultiMapping

from gateway.errors import ErrorPage, OAuthError
from gateway.httputil import single_params
from gateway.keys import SERVICES
from gateway.models import Application
from gateway.redirect_uri import RedirectUri, RedirectUriError, parse_redirect_uri, resolve_redirect_uri

AUTHORIZE_PATH = "/oauth/authorize"


@dataclass(frozen=True, slots=True)
class VerifiedClient:
    app: Application
    redirect_uri: RedirectUri  # where this request's outcome (code or error) goes
    redirect_uri_given: bool  # the request named it (RFC 6749 §4.1.3: then the token request must too)
    state: str | None


async def verify_client(request: web.Request, query: MultiMapping[str]) -> VerifiedClient:
    """Client and redirect URI of an authorization request; until both hold nothing may redirect, so every
    failure is an ErrorPage."""
    try:
        p = single_params(query, ("client_id", "redirect_uri", "state"))
    except OAuthError as exc:
        raise ErrorPage("Invalid request", exc.description) from None
    client_id = p.get("client_id")
    if not client_id:
        raise ErrorPage("Invalid request", "The client_id parameter is missing.")
    app = await request.app[SERVICES].store.get_app(client_id) if len(client_id) <= 128 else None
    if app is None:
        raise ErrorPage("Unknown application", "The client_id parameter does not name a registered application.")
    try:
        parse_redirect_uri(app.redirect_uri)
    except RedirectUriError:  # stored before registration validated strictly: never redirect to it
        raise ErrorPage(
            "Invalid application", "The application's registered redirect URI is not valid; its owner must correct it."
        ) from None
    presented = p.get("redirect_uri")
    # The same URI after RFC 3986 normalisation (gateway.redirect_uri), never a prefix or pattern (RFC 9700
    # §4.1.3); a public client's loopback IP URI on any port (RFC 8252 §7.3). Omitted: the one registered URI.
    try:
        target = resolve_redirect_uri(app.redirect_uri, presented, public=not app.server_side)
    except RedirectUriError:
        raise ErrorPage(
            "Invalid request", "The redirect_uri parameter does not match the registered redirect URI."
        ) from None
    return VerifiedClient(app, target, presented is not None, p.get("state"))


async def form_target(request: web.Request, return_to: str | None) -> RedirectUri | None:
    """The verified redirect URI of the authorization request a page's form leads back to (`return_to`, e.g. the
    sign-in page's `next`), or None when it leads to no valid authorization request."""
    if not return_to:
        return None
    parts = urlsplit(return_to)
    if parts.path != AUTHORIZE_PATH or parts.scheme or parts.netloc:
        return None
    query: MultiDict[str] = MultiDict(parse_qsl(parts.query, keep_blank_values=True))
    try:
        return (await verify_client(request, query)).redirect_uri
    except ErrorPage:
        return None
