"""Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3.1, §3.2.1).

Server-side applications use client_secret_basic or client_secret_post (exactly one); public applications
(Server-Side off) have no secret: they send only their client_id (`none`) and prove possession with PKCE; any
secret they send is refused, and they cannot introspect. Attempts are counted per source address (through
`trusted_proxies`) before anything is compared, and given back when they succeed; past the limit the address is
refused with 429 (gateway.portal.throttle states the policy).
"""

from __future__ import annotations

import base64
import binascii
import logging
from urllib.parse import unquote

from aiohttp import hdrs, web
from multidict import MultiDictProxy

from gateway.errors import InvalidClient, InvalidRequest, ThrottledError
from gateway.httputil import single_params
from gateway.keys import SERVICES
from gateway.models import Application
from gateway.network import client_address
from gateway.portal.throttle import CLIENT_AUTH_FAILURES, Window, client_auth_windows

log = logging.getLogger("scopegate.oauth.clientauth")


def _basic_credentials(request: web.Request) -> tuple[str, str] | None:
    values = request.headers.getall(hdrs.AUTHORIZATION, [])
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequest("the Authorization header is repeated")
    scheme, _, encoded = values[0].partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClient("the Authorization header must use the Basic scheme")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClient("the Authorization header is not valid Basic credentials") from exc
    user, sep, password = decoded.partition(":")
    if not sep:
        raise InvalidClient("the Authorization header is not valid Basic credentials")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote(user.replace("+", " ")), unquote(password.replace("+", " "))


async def _throttle_take(request: web.Request, windows: list[Window]) -> None:
    wait = await CLIENT_AUTH_FAILURES.take(request.app[SERVICES], windows)
    if wait is not None:
        raise ThrottledError(wait, "too many failed client authentications from this address; retry later")


def _failed(description: str) -> InvalidClient:
    log.info("client authentication failed")
    return InvalidClient(description)


async def authenticate_client(
    request: web.Request, form: MultiDictProxy[str], *, allow_public: bool = True
) -> Application:
    """The authenticated application, or InvalidClient (401) / ThrottledError (429).

    `allow_public=False` (introspection) demands a secret: a public client has no credential to prove.
    """
    services = request.app[SERVICES]
    basic = _basic_credentials(request)
    p = single_params(form, ("client_id", "client_secret"))
    if basic is not None and "client_secret" in p:
        raise InvalidRequest(
            "use one client authentication method, not both (Authorization header and client_secret parameter)"
        )
    if basic is not None:
        client_id, secret = basic
        if "client_id" in p and p["client_id"] != client_id:
            raise InvalidRequest("the client_id parameter does not match the Authorization header")
    else:
        if "client_id" not in p:
            raise InvalidClient("the client_id parameter is missing (or use HTTP Basic authentication)")
        client_id, secret = p["client_id"], p.get("client_secret", "")

    # Per source address only: a stranger cannot lock a client id out for callers with the right secret.
    address = client_address(
        request.remote, request.headers.getall(hdrs.X_FORWARDED_FOR, []), services.settings.trusted_proxies
    )
    windows = client_auth_windows(services, address)
    await _throttle_take(request, windows)  # counted before any lookup or comparison; given back on success
    if not 0 < len(client_id) <= 128:
        raise _failed("the client_id parameter does not name a registered application")
    app = await services.store.get_app(client_id)
    if app is None:
        raise _failed("the client_id parameter does not name a registered application")
    if not app.server_side:
        # A public client has no secret (none is issued or stored): a secret it sends is refused, never compared,
        # and it cannot use an endpoint that needs a credential (introspection).
        if secret:
            raise _failed(
                "this client is public (Server-Side off): it has no client secret; send only client_id "
                "and prove possession with PKCE"
            )
        if not allow_public:
            raise _failed("a public client (Server-Side off) cannot authenticate here")
        await CLIENT_AUTH_FAILURES.give_back(services, windows)
        return app  # a public client: it proves itself with PKCE at the token endpoint
    if secret:
        hashes = await services.store.secret_hashes(client_id)
        # Compare against every live secret (current and any in its rotation grace) without stopping early.
        matched = False
        for stored in hashes:
            matched |= services.hasher.matches(secret, stored)
        if not matched:
            raise _failed("the client secret is not valid for this client")
        await CLIENT_AUTH_FAILURES.give_back(services, windows)
        return app
    raise _failed("this client must authenticate with its client secret")
