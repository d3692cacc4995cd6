"""Every typed application and request key. A leaf: it imports only aiohttp and, for the type checker, types."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:  # a leaf at run time: importing services here would load the store for every handler
    from gateway.services import Services

SERVICES: web.AppKey[Services] = web.AppKey("services")

# Request-scoped facts the access log and metrics read (set by whoever decides).
ROUTE_ID = web.RequestKey("route_id", str)
DECISION = web.RequestKey("decision", str)
REASON = web.RequestKey("reason", str)
REQUEST_ID = web.RequestKey("request_id", str)

# CORS (gateway.oauth.cors): set by an endpoint browser apps may call; "" = answer with `Vary: Origin` only, else
# the value of `Access-Control-Allow-Origin`. The middleware writes the headers on every response to the request,
# errors included. Never set on a page (authorize, consent, sign-in, account, developer).
CORS_ALLOW = web.RequestKey("cors_allow", str)
