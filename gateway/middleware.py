"""The one place errors become responses, plus request ids and one JSON access-log line per request.

Log lines carry ids, route, decision, reason, status and latency: never a token, secret, cookie or query string.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway import errors
from gateway.keys import CORS_ALLOW, DECISION, REASON, REQUEST_ID, ROUTE_ID, SERVICES
from gateway.portal import pages, sessions
from gateway.redirect_uri import with_params

log = logging.getLogger("scopegate")

_BROWSER = (errors.SignInRequired, errors.ErrorPage, errors.ClientRedirect)
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_JSON = "application/json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Request ids: a random per-process prefix and a counter, unique across processes and cheaper than uuid4 per request.
_ID_PREFIX = secrets.token_hex(8)
_id_counter = itertools.count(1)


def _new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter):016x}"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def browser_response(
    exc: errors.SignInRequired | errors.ErrorPage | errors.ClientRedirect, issuer: str
) -> web.Response:
    """The browser outcomes: a redirect (to sign in, or to the client with an error) or an HTML page."""
    if isinstance(exc, errors.ClientRedirect):
        params = {"error": exc.error.code, "error_description": exc.error.description}
        if exc.state is not None:
            params["state"] = exc.state
        params["iss"] = issuer
        return pages.redirect(with_params(exc.redirect_uri, params), status=exc.status)
    if isinstance(exc, errors.SignInRequired):
        if exc.location is not None:
            return pages.redirect(exc.location, status=exc.redirect_status)
        return pages.error_page("Sign-in required", exc.description, status=exc.status)
    return pages.error_page(exc.title, exc.description, status=exc.status)


def error_response(exc: errors.GatewayError, realm: str, resource_metadata: str | None = None) -> web.Response:
    """Map an error of the tree to its JSON response (RFC 6750 §3, RFC 6749 §5.2). `resource_metadata`: the RFC
    9728 document a bearer challenge names, so a client that starts from a 401 finds the authorization server."""
    body: dict[str, object] = {"error": exc.code}
    if exc.description:
        body["error_description"] = exc.description
    headers: dict[str, str] = {"Cache-Control": "no-store"}
    if isinstance(exc, errors.BearerError):
        challenge = f'Bearer realm="{_quote(realm)}"'
        if resource_metadata is not None:
            challenge += f', resource_metadata="{_quote(resource_metadata)}"'
        if isinstance(exc, errors.MissingCredentials):
            # RFC 6750 §3.1: a request without credentials gets a challenge with no error code.
            body = {"error": "unauthorized", "error_description": exc.description or "a bearer token is required"}
        else:
            challenge += f', error="{exc.code}"'
            if exc.description:
                challenge += f', error_description="{_quote(exc.description)}"'
        if isinstance(exc, errors.InsufficientScope):
            challenge += f', scope="{" ".join(exc.required)}"'
            body["scope"] = " ".join(exc.required)
        headers["WWW-Authenticate"] = challenge
    elif isinstance(exc, errors.InvalidClient):
        headers["WWW-Authenticate"] = f'Basic realm="{_quote(realm)}"'
    elif isinstance(exc, (errors.StoreUnavailable, errors.ThrottledError)):
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, errors.Invalid):
        body["fields"] = exc.fields
    elif isinstance(exc, errors.MethodNotAllowed) and exc.allow:
        headers["Allow"] = exc.allow
    return web.Response(status=exc.status, text=json.dumps(body), content_type=_JSON, headers=headers)


@web.middleware
async def gateway_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    services = request.app[SERVICES]
    started = time.perf_counter()
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if incoming and _SANE_REQUEST_ID.match(incoming) else _new_request_id()
    request[REQUEST_ID] = request_id
    status = 500
    try:
        if (
            request.body_exists
            and request.match_info.route.name != "proxy"
            and request.headers.get("Content-Encoding", "identity").lower() != "identity"
        ):
            # The gateway reads these bodies itself and decodes none (the public listener relays proxied bodies
            # byte for byte, so it does not decompress): say so rather than misread them.
            raise errors.UnsupportedEncoding(
                "request bodies with a Content-Encoding are not accepted here", reason="content_encoding"
            )
        response = await handler(request)
        status = response.status
    except errors.GatewayError as exc:
        request.setdefault(DECISION, "deny")
        request.setdefault(REASON, exc.reason)
        request.setdefault(ROUTE_ID, exc.route_id)
        if isinstance(exc, errors.StoreUnavailable):
            services.metrics.redis_errors.inc()
        if isinstance(exc, _BROWSER):
            response = browser_response(exc, services.settings.issuer)
        else:
            # RFC 9728 §5.1: the proxy's challenges name the protected resource metadata (not the admin API's).
            resource = services.settings.resource_metadata_url if request.match_info.route.name == "proxy" else None
            response = error_response(exc, services.settings.realm, resource)
        status = response.status
    except web.HTTPException as exc:
        status = exc.status
        request.setdefault(DECISION, "deny" if status >= 400 else "allow")
        raise
    except Exception:
        log.exception("unhandled error (request %s)", request_id)
        request.setdefault(DECISION, "error")
        response = error_response(errors.GatewayError("internal error"), services.settings.realm)
    finally:
        elapsed = time.perf_counter() - started
        route_id = request.get(ROUTE_ID, "-")
        decision = request.get(DECISION, "allow" if status < 400 else "deny")
        services.metrics.observe_request(route_id, decision, status, elapsed)
        if services.access_log is not None:
            services.access_log.record(
                request_id, request.method, request.path, route_id, decision, request.get(REASON, ""), status, elapsed
            )
    if not response.prepared:
        response.headers.setdefault("X-Request-Id", request_id)
        cors = request.get(CORS_ALLOW)
        if cors is not None:  # an endpoint browser apps call (gateway.oauth.cors): its errors are readable too
            response.headers.add("Vary", "Origin")
            if cors:
                response.headers["Access-Control-Allow-Origin"] = cors
        fresh = request.get(sessions.FRESH_SESSION)
        if fresh is not None:  # a session begun by this request: every response to it sets the cookie
            sessions.set_cookie(response, request, fresh)
    return response
