"""Every typed application and request key."""

from __future__ import annotations

from aiohttp import web

from gateway.services import Services

SERVICES = web.AppKey("services", Services)

# Request-scoped facts the access log and metrics read (set by whoever decides).
ROUTE_ID = web.RequestKey("route_id", str)
DECISION = web.RequestKey("decision", str)
REASON = web.RequestKey("reason", str)
REQUEST_ID = web.RequestKey("request_id", str)
