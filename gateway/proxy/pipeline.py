"""decide(): canonicalize -> match route -> authenticate -> authorize. Pure of aiohttp responses, so each stage is
tested without a server; the handler is "decide, then forward". RFC 6750 §2.1 (header only) and §3.1 (errors)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.errors import (
    BasicAuthRejected,
    GatewayError,
    InsufficientScope,
    InvalidBearerRequest,
    MissingCredentials,
    NoRoute,
    StoreUnavailable,
)
from gateway.models import Principal
from gateway.proxy.canonical import Target, canonicalize
from gateway.proxy.routes import Route, RouteTable
from gateway.validation import TokenValidator


@dataclass(frozen=True, slots=True)
class Decision:
    route: Route
    target: Target
    principal: Principal | None  # None for public routes and Basic passthrough
    strip_authorization: bool  # a bearer credential is never forwarded
    reason: str


class Decider:
    def __init__(self, table: RouteTable, validator: TokenValidator, *, basic_auth: str) -> None:
        self._table = table
        self._validator = validator
        self._basic_passthrough = basic_auth == "passthrough"
        self.ready: Callable[[], bool] = lambda: True  # the handler makes it "scope registry loaded"

    def use_table(self, table: RouteTable) -> None:
        """Swap the route table (a reload); one assignment, so a request sees the old table or the new one."""
        self._table = table

    async def decide(self, method: str, raw_target: str, authorization: list[str]) -> Decision:
        target = canonicalize(raw_target)
        route = self._table.match(method, target.path)
        if route is None:
            raise NoRoute("no route matches this method and path", reason="no_route")
        try:
            return await self._authorize(route, target, authorization)
        except GatewayError as exc:
            exc.route_id = route.id  # for the access log and metrics; errors carry no other request state
            raise

    async def _authorize(self, route: Route, target: Target, authorization: list[str]) -> Decision:
        if "access_token=" in target.query:
            raise InvalidBearerRequest(
                "access tokens are accepted only in the Authorization header", reason="token_in_query"
            )
        if len(authorization) > 1:
            raise InvalidBearerRequest("more than one Authorization header", reason="duplicate_authorization")
        scheme, _, credentials = (authorization[0] if authorization else "").partition(" ")
        scheme = scheme.lower()
        if route.public:
            return Decision(route, target, None, scheme == "bearer", "public")
        if scheme == "basic":
            if not self._basic_passthrough:
                raise BasicAuthRejected("HTTP Basic credentials are not accepted here", reason="basic_rejected")
            return Decision(route, target, None, False, "basic_passthrough")
        if scheme != "bearer":
            if authorization:
                raise InvalidBearerRequest(
                    "only the Bearer authorization scheme is accepted", reason="unsupported_scheme"
                )
            raise MissingCredentials(reason="no_credentials")
        token = credentials.strip(" ")
        if not token or " " in token:
            raise InvalidBearerRequest("the Authorization header is malformed", reason="malformed_authorization")
        if not self.ready():
            raise StoreUnavailable("the token store is not ready", reason="store_not_ready")
        principal = await self._validator.validate(token)
        missing = [s for s in route.scopes if s not in principal.scopes]
        if missing:
            raise InsufficientScope(route.scopes)
        return Decision(route, target, principal, True, "allowed")
