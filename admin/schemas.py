"""The admin API's JSON boundary: reading request bodies and query parameters, and the shapes it answers with.

Bodies that are not JSON, nest deeper than `gateway.jsonbody.MAX_DEPTH` or are not a JSON object are 400; a
well-formed body with a bad field is 422 naming the field (raised by `gateway.applications` or here). No shape
returned here ever carries a client secret, except the two that exist to show one once: `registered` and `rotated`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway import jsonbody
from gateway.applications import Edited, Registered
from gateway.errors import AdminError, Invalid
from gateway.models import Application, Authorization

MAX_AUDIT_PAGE = 1000


class BadRequest(AdminError):
    """400: the body is not a JSON object (a field-level problem is Invalid, 422)."""

    status = 400
    code = "bad_request"


async def json_object(request: web.Request, *, required: bool = True) -> dict[str, Any]:
    if not request.body_exists:
        if required:
            raise BadRequest("a JSON object body is required")
        return {}
    ctype = request.content_type
    if ctype not in ("application/json", "application/octet-stream") and not ctype.endswith("+json"):
        raise BadRequest("the body must be JSON (Content-Type: application/json)")
    raw = await request.read()
    try:
        body = jsonbody.loads(raw)
    except jsonbody.TooDeep as exc:
        raise BadRequest(f"the body is not acceptable JSON: {exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def optional_string(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Invalid({key: "must be a non-empty string"})
    return value


def query_int(request: web.Request, key: str, default: int, *, low: int, high: int) -> int:
    text = request.query.get(key)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise Invalid({key: "must be an integer"}) from None
    if not low <= value <= high:
        raise Invalid({key: f"must be between {low} and {high}"})
    return value


def application(app: Application) -> dict[str, object]:
    """An application as the admin API shows it: never a secret."""
    return app.public_dict()


def registered(reg: Registered | Edited) -> dict[str, object]:
    """An application with the secret issued by this request (shown once); a public one has none."""
    body = application(reg.application)
    if reg.client_secret is not None:
        body["client_secret"] = reg.client_secret
    return body


def rotated(client_id: str, secret: str, previous_valid_until: float | None) -> dict[str, object]:
    return {
        "client_id": client_id,
        "client_secret": secret,
        "previous_secret_valid_until": previous_valid_until,
    }


def authorization(auth: Authorization, app: Application | None) -> dict[str, object]:
    return {
        "client_id": auth.client_id,
        "application_name": app.name if app is not None else None,
        "scopes": list(auth.scopes),
        "authorized_at": auth.authorized_at,
        "last_used": auth.last_used,
    }


def json_response(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, headers={"Cache-Control": "no-store"})
