"""The error tree; `gateway.middleware` is the one place these become HTTP responses.

GatewayError                       status + code as class attributes
├─ ConfigError                     start-up only: every problem with its key path and line
├─ StoreUnavailable        503     fail closed, Retry-After
├─ BearerError                     RFC 6750 §3.1
│  ├─ MissingCredentials   401     no `error` attribute in the challenge
│  ├─ InvalidToken         401
│  ├─ InsufficientScope    403     challenge carries scope="..."
│  └─ InvalidBearerRequest 400
├─ ProxyError
│  ├─ BadPath              400
│  ├─ BadRequestHeaders    400     Host, Connection naming an end-to-end header
│  ├─ UnsupportedEncoding  415     a Content-Encoding body on an endpoint the gateway itself reads
│  ├─ NoRoute              404
│  ├─ MethodNotAllowed     405
│  ├─ PayloadTooLarge      413
│  ├─ BasicAuthRejected    401
│  ├─ UpstreamUnavailable  502
│  └─ UpstreamTimeout      504
├─ OAuthError              400     RFC 6749 §5.2 JSON body; one subclass per error code, with its status
│  ├─ InvalidRequest, InvalidGrant, UnauthorizedClient, UnsupportedGrantType, UnsupportedResponseType,
│  │  InvalidScope, ConsentRequired
│  ├─ InvalidClient        401
│  ├─ LoginRequired        401
│  └─ AccessDenied         403
├─ SignInRequired          303/302 to the sign-in page, or a 401 page     (browser only)
├─ ErrorPage               an HTML page with its status                   (browser only)
├─ ClientRedirect          302/303 to the client's redirect URI with error, state, iss
├─ ThrottledError          429     Retry-After
└─ AdminError
   ├─ NotFound             404
   ├─ Conflict             409
   └─ Invalid              422     field errors
"""

from __future__ import annotations

from dataclasses import dataclass


class GatewayError(Exception):
    status: int = 500
    code: str = "server_error"

    def __init__(self, description: str = "", *, reason: str | None = None) -> None:
        super().__init__(description or self.code)
        self.description = description
        # A short machine-readable reason for the access log (never a secret).
        self.reason = reason or self.code
        self.route_id = "-"  # set by the proxy once a route matched


@dataclass(frozen=True)
class ConfigProblem:
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.path or '<root>'}{where}: {self.message}"


class ConfigError(GatewayError):
    code = "config_error"

    def __init__(self, problems: list[ConfigProblem], source: str = "") -> None:
        self.problems = problems
        self.source = source
        head = f"invalid configuration {source}".rstrip()
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in problems))


class StoreUnavailable(GatewayError):
    status = 503
    code = "temporarily_unavailable"
    retry_after = 1


class BearerError(GatewayError):
    status = 401
    code = "invalid_token"


class MissingCredentials(BearerError):
    status = 401
    code = "missing_credentials"


class InvalidToken(BearerError):
    status = 401
    code = "invalid_token"


class InsufficientScope(BearerError):
    status = 403
    code = "insufficient_scope"

    def __init__(self, required: tuple[str, ...], description: str = "") -> None:
        super().__init__(description or "the token lacks a scope this route requires")
        self.required = required


class InvalidBearerRequest(BearerError):
    status = 400
    code = "invalid_request"


class ProxyError(GatewayError):
    status = 500
    code = "proxy_error"


class BadPath(ProxyError):
    status = 400
    code = "invalid_request"


class BadRequestHeaders(ProxyError):
    status = 400
    code = "invalid_request"


class UnsupportedEncoding(ProxyError):
    status = 415
    code = "unsupported_media_type"


class NoRoute(ProxyError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ProxyError):
    status = 405
    code = "method_not_allowed"

    def __init__(self, description: str = "", *, allow: str = "", reason: str | None = None) -> None:
        super().__init__(description, reason=reason)
        self.allow = allow  # the `Allow` header of the answer


class PayloadTooLarge(ProxyError):
    status = 413
    code = "payload_too_large"


class BasicAuthRejected(ProxyError):
    status = 401
    code = "invalid_request"


class UpstreamUnavailable(ProxyError):
    status = 502
    code = "bad_gateway"


class UpstreamTimeout(ProxyError):
    status = 504
    code = "gateway_timeout"


class OAuthError(GatewayError):
    """An RFC 6749 §4.1.2.1 / §5.2 error: each code is a subclass carrying its own status."""

    status = 400
    code = "invalid_request"


class InvalidRequest(OAuthError):
    code = "invalid_request"


class CsrfRejected(InvalidRequest):
    """A change without the session's CSRF token (JSON callers; pages get an ErrorPage)."""

    status = 403


class InvalidClient(OAuthError):
    status = 401
    code = "invalid_client"

    def __init__(self, description: str = "client authentication failed", *, reason: str | None = None) -> None:
        super().__init__(description, reason=reason)


class InvalidGrant(OAuthError):
    code = "invalid_grant"


class UnauthorizedClient(OAuthError):
    code = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    code = "unsupported_grant_type"


class UnsupportedResponseType(OAuthError):
    code = "unsupported_response_type"


class InvalidScope(OAuthError):
    code = "invalid_scope"


class AccessDenied(OAuthError):
    status = 403
    code = "access_denied"


class LoginRequired(OAuthError):
    """No signed-in user, told to a caller that cannot follow a sign-in page (JSON, `prompt=none`)."""

    status = 401
    code = "login_required"


class ConsentRequired(OAuthError):
    code = "consent_required"


# --- browser outcomes: the middleware renders these as a page or a redirect, never as JSON --------------------


class SignInRequired(GatewayError):
    """The browser must sign in first: sent to `location` (which returns it where it was), or shown why not."""

    status = 401
    code = "login_required"

    def __init__(self, description: str, *, location: str | None = None, redirect_status: int = 303) -> None:
        super().__init__(description, reason="login_required")
        self.location = location
        self.redirect_status = redirect_status


class ErrorPage(GatewayError):
    """An HTML error page (before the client is verified, a redirect would make the server an open redirector)."""

    code = "error_page"

    def __init__(self, title: str, message: str, status: int = 400, *, reason: str | None = None) -> None:
        super().__init__(message, reason=reason or "error_page")
        self.title = title
        self.status = status


class ClientRedirect(GatewayError):
    """An OAuth error sent back to the client's verified redirect URI (`error`, `state`, `iss`; RFC 9207)."""

    status = 302

    def __init__(self, redirect_uri: str, state: str | None, error: OAuthError, status: int = 302) -> None:
        super().__init__(error.description, reason=error.code)
        self.code = error.code
        self.redirect_uri = redirect_uri
        self.state = state
        self.error = error
        self.status = status


class ThrottledError(GatewayError):
    """429 + Retry-After at the token, revocation and introspection endpoints. RFC 6749 §5.2 defines no code for
    "too many attempts" (`temporarily_unavailable` is the authorization endpoint's, `slow_down` RFC 8628's device
    flow), so the code is `invalid_request`, the one every OAuth client handles, and the status says why."""

    status = 429
    code = "invalid_request"

    def __init__(self, retry_after: int, description: str = "too many failed attempts") -> None:
        super().__init__(description)
        self.retry_after = retry_after


class AdminError(GatewayError):
    status = 400
    code = "bad_request"


class NotFound(AdminError):
    status = 404
    code = "not_found"


class Conflict(AdminError):
    status = 409
    code = "conflict"


class Invalid(AdminError):
    status = 422
    code = "invalid"

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields
