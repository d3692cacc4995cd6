"""Admin API handlers: application lifecycle, secret rotation, bulk revocation, user authorizations, audit.

Handlers raise errors from `gateway.errors`; `gateway.middleware` turns them into responses.
"""

from __future__ import annotations

from aiohttp import web

from admin import audit, schemas
from gateway.applications import ApplicationService
from gateway.authorizations import AuthorizationService
from gateway.errors import Invalid, NotFound
from gateway.keys import SERVICES
from gateway.services import Services

routes = web.RouteTableDef()


def _services(request: web.Request) -> Services:
    return request.app[SERVICES]


# --- applications -------------------------------------------------------------------------------------------


@routes.post("/admin/applications")
async def create_application(request: web.Request) -> web.Response:
    services = _services(request)
    body = await schemas.json_object(request)
    reg = await ApplicationService(services).register(audit.actor(request), body)
    return schemas.json_response(schemas.registered(reg), status=201)


@routes.get("/admin/applications")
async def list_applications(request: web.Request) -> web.Response:
    owner = request.query.get("owner") or None
    apps = await _services(request).store.list_apps(owner)
    return schemas.json_response({"applications": [schemas.application(a) for a in apps]})


@routes.get("/admin/applications/{client_id}")
async def get_application(request: web.Request) -> web.Response:
    client_id = request.match_info["client_id"]
    app = await _services(request).store.get_app(client_id)
    if app is None:
        raise NotFound(f"no application {client_id!r}")
    return schemas.json_response(schemas.application(app))


@routes.patch("/admin/applications/{client_id}")
async def edit_application(request: web.Request) -> web.Response:
    services = _services(request)
    client_id = request.match_info["client_id"]
    body = await schemas.json_object(request)
    for fixed in ("client_id", "client_secret"):
        if fixed in body:
            raise Invalid({fixed: "cannot be changed"})
    # The service publishes the change: every gateway drops its cached view of this application at once, so an
    # unticked scope is gone from live tokens on the next request.
    edited = await ApplicationService(services).edit(audit.actor(request), client_id, body)
    return schemas.json_response(schemas.registered(edited))


@routes.delete("/admin/applications/{client_id}")
async def delete_application(request: web.Request) -> web.Response:
    services = _services(request)
    client_id = request.match_info["client_id"]
    elapsed = await ApplicationService(services).delete(audit.actor(request), client_id)
    return schemas.json_response(
        {"client_id": client_id, "deleted": True, "cleanup": "scheduled", "revoke_seconds": round(elapsed, 6)}
    )


@routes.post("/admin/applications/{client_id}/secret")
async def rotate_secret(request: web.Request) -> web.Response:
    services = _services(request)
    client_id = request.match_info["client_id"]
    rotated = await ApplicationService(services).rotate_secret(audit.actor(request), client_id)
    return schemas.json_response(schemas.rotated(client_id, rotated.client_secret, rotated.previous_valid_until))


# --- revocation ---------------------------------------------------------------------------------------------


@routes.post("/admin/revocations")
async def bulk_revocation(request: web.Request) -> web.Response:
    services = _services(request)
    body = await schemas.json_object(request)
    unknown = sorted(set(body) - {"client_id", "user_id"})
    if unknown:
        raise Invalid({k: "unknown field" for k in unknown})
    client_id = schemas.optional_string(body, "client_id")
    user_id = schemas.optional_string(body, "user_id")
    if client_id is None and user_id is None:
        raise Invalid({"client_id": "give client_id, user_id or both", "user_id": "give client_id, user_id or both"})
    if client_id is not None and await services.store.get_app(client_id) is None:
        raise Invalid({"client_id": f"no application {client_id!r}"})
    # Each case is one epoch bump and one published message, whatever the number of tokens.
    authorizations = AuthorizationService(services)
    if client_id is not None and user_id is not None:
        scope, removed = "user_application", int(await authorizations.revoke_user_application(user_id, client_id))
    elif client_id is not None:
        scope, removed = "application", await authorizations.revoke_client(client_id)
    else:
        assert user_id is not None
        scope, removed = "user", await authorizations.revoke_user(user_id)
    result = {"revoked": scope, "client_id": client_id, "user_id": user_id, "authorizations_removed": removed}
    await audit.record(request, audit.BULK_REVOCATION, **{k: v for k, v in result.items() if v is not None})
    return schemas.json_response(result)


# --- a user's authorizations --------------------------------------------------------------------------------


@routes.get("/admin/users/{user_id}/authorizations")
async def list_user_authorizations(request: web.Request) -> web.Response:
    user_id = request.match_info["user_id"]
    rows = await AuthorizationService(_services(request)).list(user_id)
    out = [schemas.authorization(auth, app) for auth, app in rows]
    return schemas.json_response({"user_id": user_id, "authorizations": out})


@routes.delete("/admin/users/{user_id}/authorizations/{client_id}")
async def revoke_user_authorization(request: web.Request) -> web.Response:
    user_id = request.match_info["user_id"]
    client_id = request.match_info["client_id"]
    removed = await AuthorizationService(_services(request)).revoke(audit.actor(request), user_id, client_id)
    if not removed:
        raise NotFound(f"user {user_id!r} has no authorization for {client_id!r} (any tokens were revoked anyway)")
    return schemas.json_response({"user_id": user_id, "client_id": client_id, "revoked": True})


# --- audit --------------------------------------------------------------------------------------------------


@routes.get("/admin/audit")
async def read_audit(request: web.Request) -> web.Response:
    limit = schemas.query_int(request, "limit", 100, low=1, high=schemas.MAX_AUDIT_PAGE)
    before = request.query.get("before") or None
    if before is not None and not _stream_id(before):
        raise Invalid({"before": "must be an audit event id"})
    events = await _services(request).store.read_audit(count=limit, before=before)
    page_next = events[-1]["id"] if len(events) == limit else None
    return schemas.json_response({"events": events, "next": page_next})


def _stream_id(text: str) -> bool:
    ms, sep, seq = text.partition("-")
    return ms.isdigit() and (not sep or seq.isdigit())
