"""The JSON twin of the developer pages: request bodies and response shapes (never a secret, except the one
response to a create)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import web

from gateway import jsonbody
from gateway.errors import Invalid, InvalidRequest
from gateway.httputil import NO_STORE
from gateway.models import Application


async def json_object(request: web.Request) -> dict[str, object]:
    raw = await request.read()
    try:
        body = jsonbody.loads(raw)
    except jsonbody.TooDeep as exc:
        # Not a field problem: the body as a whole is refused before it is parsed (400, like the admin API).
        raise InvalidRequest(f"the body is not acceptable JSON: {exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid({"body": "must be a JSON object"}) from exc
    if not isinstance(body, dict):
        raise Invalid({"body": "must be a JSON object"})
    return body


def json_response(body: Mapping[str, object], status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=dict(NO_STORE))


def app_json(app: Application) -> dict[str, object]:
    """An application as its owner sees it (never a secret)."""
    return {
        "client_id": app.client_id,
        "name": app.name,
        "redirect_uri": app.redirect_uri,
        "server_side": app.server_side,
        "client_type": app.client_type,
        "token_endpoint_auth_methods": list(app.auth_methods),
        "scopes": list(app.scopes),
        "published": app.published,
        "created_at": app.created_at,
        "updated_at": app.updated_at,
    }
