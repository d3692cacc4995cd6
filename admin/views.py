"""Admin API handlers: application lifecycle, secret rotation, bulk revocation, user authorizations, audit.

Handlers raise errors from `gateway.errors`; `gateway.middleware` turns them into responses.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from admin import audit, schemas
from admin.auth import ACTOR
from gateway import applications
from gateway.errors import Invalid, NotFound, StoreUnavailable
from gateway.keys import SERVICES
from gateway.models import RevocationReport
from gateway.security import TokenKind, mint
from gateway.services import Services

log = logging.getLogger("scopegate.admin")

routes = web.RouteTableDef()


def _services(request: web.Request) -> Services:
    return request.app[SERVICES]


def _catalog(services: Services) -> list[str]:
    return list(services.settings.scopes)


def _drop_local(services: Services, kind: str, *args: str) -> None:
    """Drop this process's cached facts now, without waiting for our own pub/sub message to come back (other
    processes drop theirs when it reaches them). Same message shape as the store publishes, but its time field is
    not a publish time, so the validator does not count it in the propagation metric (only the real message is)."""
    services.validator.on_revocation(" ".join(("local", kind, *args)))


# --- applications -------------------------------------------------------------------------------------------


@routes.post("/admin/applications")
async def create_application(request: web.Request) -> web.Response:
    services = _services(request)
    body = await schemas.json_object(request)
    reg = await applications.register(services.store, services.hasher, _catalog(services), body)
    app = reg.application
    await audit.record(
        request,
        audit.APPLICATION_CREATED,
        client_id=app.client_id,
        name=app.name,
        owner=app.owner,
        scopes=list(app.scopes),
    )
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
    before = await services.store.get_app(client_id)
    if before is None:
        raise NotFound(f"no application {client_id!r}")
    # update_app publishes the change: every gateway drops its cached view of this application at once, so an
    # unticked scope is gone from live tokens on the next request.
    after = await applications.edit(services.store, _catalog(services), client_id, body)
    _drop_local(services, "a", client_id)
    old, new = schemas.application(before), schemas.application(after)
    changes = {k: {"from": old[k], "to": new[k]} for k in body if k in new and old[k] != new[k]}
    await audit.record(request, audit.APPLICATION_UPDATED, client_id=client_id, changes=changes)
    return schemas.json_response(new)


@routes.delete("/admin/applications/{client_id}")
async def delete_application(request: web.Request) -> web.Response:
    services = _services(request)
    client_id = request.match_info["client_id"]
    started = time.perf_counter()
    # One atomic step (application, secrets, registry entry) plus one published message: every token, refresh
    # token and code of the application fails validation from here on, however many. Nothing is scanned.
    if not await services.store.delete_app(client_id):
        raise NotFound(f"no application {client_id!r}")
    _drop_local(services, "a", client_id)
    elapsed = time.perf_counter() - started
    services.spawn(_clean_up(services, client_id, request.get(ACTOR, "")), f"cleanup-{client_id}")
    await audit.record(request, audit.APPLICATION_DELETED, client_id=client_id)
    return schemas.json_response(
        {"client_id": client_id, "deleted": True, "cleanup": "scheduled", "revoke_seconds": round(elapsed, 6)}
    )


async def _clean_up(services: Services, client_id: str, actor: str) -> None:
    """Reclaim the deleted application's grants and refresh tokens in small batches (background)."""
    try:
        removed = await services.store.cleanup_app(client_id)
        await services.store.append_audit(
            {
                "action": audit.APPLICATION_CLEANED_UP,
                "actor": actor,
                "client_id": client_id,
                "grants": removed,
            }
        )
    except StoreUnavailable:
        log.warning("clean-up of deleted application %s interrupted (store unavailable)", client_id)
    except Exception:
        log.exception("clean-up of deleted application %s failed", client_id)


@routes.post("/admin/applications/{client_id}/secret")
async def rotate_secret(request: web.Request) -> web.Response:
    services = _services(request)
    client_id = request.match_info["client_id"]
    grace = services.settings.secret_grace_period
    secret = mint(TokenKind.CLIENT_SECRET)
    if not await services.store.rotate_secret(client_id, services.hasher.hash(secret), grace):
        raise NotFound(f"no application {client_id!r}")
    valid_until = time.time() + grace if grace > 0 else None
    await audit.record(request, audit.SECRET_ROTATED, client_id=client_id, grace_seconds=grace)
    return schemas.json_response(schemas.rotated(client_id, secret, valid_until))


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
        raise Invalid(
            {"client_id": "give client_id, user_id or both", "user_id": "give client_id, user_id or both"}
        )
    store = services.store
    if client_id is not None and await store.get_app(client_id) is None:
        raise Invalid({"client_id": f"no application {client_id!r}"})
    # Each case is one epoch bump and one published message, whatever the number of tokens.
    if client_id is not None and user_id is not None:
        removed = await store.revoke_user_app(user_id, client_id)
        _drop_local(services, "ua", user_id, client_id)
        report = RevocationReport((client_id,), (user_id,), int(removed), {"scope": "user_application"})
    elif client_id is not None:
        users = await store.revoke_client(client_id)
        _drop_local(services, "a", client_id)
        report = RevocationReport((client_id,), (), users, {"scope": "application"})
    else:
        assert user_id is not None
        apps = await store.revoke_user(user_id)
        _drop_local(services, "u", user_id)
        report = RevocationReport((), (user_id,), apps, {"scope": "user"})
    result = {
        "revoked": report.details["scope"],
        "client_id": client_id,
        "user_id": user_id,
        "authorizations_removed": report.authorizations,
    }
    await audit.record(request, audit.BULK_REVOCATION, **{k: v for k, v in result.items() if v is not None})
    return schemas.json_response(result)


# --- a user's authorizations --------------------------------------------------------------------------------


@routes.get("/admin/users/{user_id}/authorizations")
async def list_user_authorizations(request: web.Request) -> web.Response:
    store = _services(request).store
    user_id = request.match_info["user_id"]
    rows = await store.list_authorizations(user_id)
    out = [schemas.authorization(a, await store.get_app(a.client_id)) for a in rows]
    return schemas.json_response({"user_id": user_id, "authorizations": out})


@routes.delete("/admin/users/{user_id}/authorizations/{client_id}")
async def revoke_user_authorization(request: web.Request) -> web.Response:
    services = _services(request)
    store = services.store
    user_id = request.match_info["user_id"]
    client_id = request.match_info["client_id"]
    # Revoke first, unconditionally: a token must not outlive a revoke even if its consent row is gone.
    removed = await store.revoke_user_app(user_id, client_id)
    _drop_local(services, "ua", user_id, client_id)
    await audit.record(
        request, audit.AUTHORIZATION_REVOKED, user_id=user_id, client_id=client_id, had_authorization=removed
    )
    if not removed:
        raise NotFound(
            f"user {user_id!r} has no authorization for {client_id!r} (any tokens were revoked anyway)"
        )
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
