"""The OAuth 2.0 authorization server (RFC 6749, 7636, 7009, 7662, 8414, 9207) on the public listener."""

from __future__ import annotations

from aiohttp import web


def setup_routes(app: web.Application) -> None:
    """Register the authorization server's routes (filled in by the authorization-server issue)."""
