"""The OpenAPI 3.1 description of the admin API, served at GET /admin/openapi.json.

A test checks that every route the admin application registers is described here, and nothing else.
"""

from __future__ import annotations

from typing import Any

from gateway.settings import Settings

_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"required": True, "content": {_JSON: {"schema": schema}}}
    if description:
        out["description"] = description
    return out


def _ok(description: str, schema: dict[str, Any] | None = None, status: str = "200") -> dict[str, Any]:
    resp: dict[str, Any] = {"description": description}
    if schema is not None:
        resp["content"] = {_JSON: {"schema": schema}}
    return {status: resp}


_ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "503": {"$ref": "#/components/responses/Unavailable"},
}
_NOT_FOUND = {"404": {"$ref": "#/components/responses/NotFound"}}
_INVALID = {"422": {"$ref": "#/components/responses/Invalid"}}


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    op_id: str,
) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "responses": {**responses, **_ERRORS}}
    if body is not None:
        op["requestBody"] = body
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _query_param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def build_openapi(settings: Settings) -> dict[str, Any]:
    scope_names = list(settings.scopes)
    scope_schema = {"type": "string", "enum": scope_names}
    client_id = _path_param("client_id", "The application's client id")
    user_id = _path_param("user_id", "The user's id in the upstream API")
    app_fields: dict[str, Any] = {
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "description": "Shown on the consent screen",
        },
        "redirect_uri": {
            "type": "string",
            "format": "uri",
            "maxLength": 2000,
            "description": "Absolute https URL (http only for loopback), at most 2000 characters: a DNS name or IP "
            "literal host, optional port 1-65535, RFC 3986 path and query; no fragment, userinfo, wildcard, "
            "whitespace or quotes. Stored and returned normalized (lowercase scheme and host, no default port). "
            "A public application (server_side false) may also register a private-use scheme with a dot "
            "(com.example.app:/callback, RFC 8252 §7.1); its loopback IP URIs (http://127.0.0.1/cb, "
            "http://[::1]/cb) match any port at authorization time (§7.3), localhost only its exact port",
        },
        "server_side": {
            "type": "boolean",
            "description": "true (default): a confidential client with a client secret; false: a public client "
            "(mobile, desktop, single-page app) with no secret, which sends only client_id and must use PKCE S256. "
            "Turning it on issues a secret (returned once in the response's client_secret); turning it off "
            "deletes every secret",
        },
        "scopes": {
            "type": "array",
            "items": scope_schema,
            "minItems": 1,
            "uniqueItems": True,
            "description": "Ticked scopes (default on creation: every scope)",
        },
        "published": {
            "type": "boolean",
            "description": "Whether any user may authorize the application (default false). An unpublished "
            "application can be authorized only by its owner (single-tenant: how an application registered on the "
            "Developer Tools page starts); publishing is the operator's decision and cannot be changed there",
        },
    }
    schemas: dict[str, Any] = {
        "Application": {
            "type": "object",
            "description": "A registered application. Never carries a secret.",
            "properties": {
                "client_id": {"type": "string"},
                **app_fields,
                "client_type": {
                    "type": "string",
                    "enum": ["confidential", "public"],
                    "description": "confidential: server_side true; public: server_side false",
                },
                "token_endpoint_auth_methods": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["client_secret_basic", "client_secret_post", "none"]},
                    "description": "How it authenticates at the token and revocation endpoints: its client "
                    "secret, or none (client_id only, with PKCE)",
                },
                "owner": {"type": "string", "description": "User id of the registering user"},
                "created_at": {"type": "number", "description": "Unix time"},
                "updated_at": {"type": "number", "description": "Unix time"},
            },
            "required": [
                "client_id",
                "name",
                "redirect_uri",
                "server_side",
                "client_type",
                "token_endpoint_auth_methods",
                "scopes",
                "owner",
                "published",
                "created_at",
                "updated_at",
            ],
        },
        "NewApplication": {
            "type": "object",
            "properties": {**app_fields, "owner": {"type": "string", "minLength": 1}},
            "required": ["name", "redirect_uri", "owner"],
            "additionalProperties": False,
        },
        "ApplicationChanges": {
            "type": "object",
            "description": "Editable fields; client id, secret and owner cannot change",
            "properties": app_fields,
            "additionalProperties": False,
        },
        "RegisteredApplication": {
            "allOf": [
                _ref("Application"),
                {
                    "type": "object",
                    "properties": {
                        "client_secret": {
                            "type": "string",
                            "description": "Shown this once; only its keyed hash is stored. Absent for a public "
                            "application (server_side false): it has no secret",
                        }
                    },
                },
            ],
        },
        "EditedApplication": {
            "allOf": [
                _ref("Application"),
                {
                    "type": "object",
                    "properties": {
                        "client_secret": {
                            "type": "string",
                            "description": "Present only when this edit turned server_side on: the new secret, "
                            "shown this once",
                        }
                    },
                },
            ],
        },
        "RotatedSecret": {
            "type": "object",
            "properties": {
                "client_id": {"type": "string"},
                "client_secret": {"type": "string", "description": "The new secret, shown this once"},
                "previous_secret_valid_until": {
                    "type": ["number", "null"],
                    "description": "Unix time until which the old secret still works (null: revoked now)",
                },
            },
            "required": ["client_id", "client_secret", "previous_secret_valid_until"],
        },
        "Deleted": {
            "type": "object",
            "properties": {
                "client_id": {"type": "string"},
                "deleted": {"const": True},
                "cleanup": {"type": "string"},
                "revoke_seconds": {"type": "number"},
            },
        },
        "RevocationRequest": {
            "type": "object",
            "description": "At least one of client_id and user_id",
            "properties": {"client_id": {"type": "string"}, "user_id": {"type": "string"}},
            "minProperties": 1,
            "additionalProperties": False,
        },
        "RevocationReport": {
            "type": "object",
            "properties": {
                "revoked": {"type": "string", "enum": ["application", "user", "user_application"]},
                "client_id": {"type": ["string", "null"]},
                "user_id": {"type": ["string", "null"]},
                "authorizations_removed": {
                    "type": "integer",
                    "description": "Authorized Applications rows removed",
                },
            },
        },
        "Authorization": {
            "type": "object",
            "properties": {
                "client_id": {"type": "string"},
                "application_name": {"type": ["string", "null"]},
                "scopes": {"type": "array", "items": {"type": "string"}},
                "authorized_at": {"type": "number"},
                "last_used": {"type": ["number", "null"]},
            },
        },
        "AuditEvent": {
            "type": "object",
            "description": "Who (actor: the index of the admin token used) did what (action) and when (ts)",
            "properties": {
                "id": {"type": "string"},
                "ts": {"type": "number"},
                "action": {
                    "type": "string",
                    "enum": [
                        "application.created",
                        "application.updated",
                        "application.deleted",
                        "application.cleaned_up",
                        "application.secret_rotated",
                        "authorization.granted",
                        "authorization.revoked",
                        "revocation.bulk",
                    ],
                },
                "actor": {"type": "string"},
                "on_behalf_of": {"type": "string"},
            },
            "required": ["id", "ts", "action"],
            "additionalProperties": True,
        },
        "Error": {
            "type": "object",
            "properties": {
                "error": {"type": "string"},
                "error_description": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "422 only: the offending field -> what is wrong with it",
                },
            },
            "required": ["error"],
        },
    }
    error = {_JSON: {"schema": _ref("Error")}}
    responses = {
        "BadRequest": {"description": "The body is not a JSON object", "content": error},
        "Unauthorized": {"description": "Missing or wrong admin bearer token", "content": error},
        "NotFound": {"description": "No such application or authorization", "content": error},
        "Invalid": {"description": "A field is invalid; `fields` names it", "content": error},
        "Unavailable": {"description": "Redis is unreachable (fail closed)", "content": error},
    }
    paths: dict[str, Any] = {
        "/admin/applications": {
            "post": _op(
                "Register an application; the client secret is returned this once",
                {**_ok("Created", _ref("RegisteredApplication"), "201"), **_INVALID},
                body=_body(_ref("NewApplication")),
                op_id="createApplication",
            ),
            "get": _op(
                "List applications (never a secret)",
                _ok(
                    "The applications",
                    {
                        "type": "object",
                        "properties": {"applications": {"type": "array", "items": _ref("Application")}},
                    },
                ),
                params=[_query_param("owner", "Only this owner's applications", {"type": "string"})],
                op_id="listApplications",
            ),
        },
        "/admin/applications/{client_id}": {
            "get": _op(
                "One application (never a secret)",
                {**_ok("The application", _ref("Application")), **_NOT_FOUND},
                params=[client_id],
                op_id="getApplication",
            ),
            "patch": _op(
                "Edit an application; the client id and secret do not change; unticked scopes leave live "
                "tokens at once",
                {**_ok("The edited application", _ref("EditedApplication")), **_NOT_FOUND, **_INVALID},
                body=_body(_ref("ApplicationChanges")),
                params=[client_id],
                op_id="editApplication",
            ),
            "delete": _op(
                "Delete an application: every token, refresh token and code it had is invalid on every "
                "gateway before this returns; storage is reclaimed in the background",
                {**_ok("Deleted", _ref("Deleted")), **_NOT_FOUND},
                params=[client_id],
                op_id="deleteApplication",
            ),
        },
        "/admin/applications/{client_id}/secret": {
            "post": _op(
                "Rotate the client secret; the old one works for the configured grace period",
                {
                    **_ok("The new secret, shown this once", _ref("RotatedSecret")),
                    **_NOT_FOUND,
                    "409": {"description": "A public application (server_side false) has no secret to rotate"},
                },
                params=[client_id],
                op_id="rotateSecret",
            ),
        },
        "/admin/revocations": {
            "post": _op(
                "Revoke in bulk: an application's tokens, a user's, or one user's tokens of one application",
                {**_ok("What was revoked", _ref("RevocationReport")), **_INVALID},
                body=_body(_ref("RevocationRequest")),
                op_id="bulkRevocation",
            ),
        },
        "/admin/users/{user_id}/authorizations": {
            "get": _op(
                "The applications a user has authorized",
                _ok(
                    "The authorizations",
                    {
                        "type": "object",
                        "properties": {
                            "user_id": {"type": "string"},
                            "authorizations": {"type": "array", "items": _ref("Authorization")},
                        },
                    },
                ),
                params=[user_id],
                op_id="listUserAuthorizations",
            ),
        },
        "/admin/users/{user_id}/authorizations/{client_id}": {
            "delete": _op(
                "Revoke one user's authorization of one application (its tokens die at once)",
                {**_ok("Revoked", {"type": "object"}), **_NOT_FOUND},
                params=[user_id, client_id],
                op_id="revokeUserAuthorization",
            ),
        },
        "/admin/audit": {
            "get": _op(
                "The audit record, newest first",
                _ok(
                    "A page of events",
                    {
                        "type": "object",
                        "properties": {
                            "events": {"type": "array", "items": _ref("AuditEvent")},
                            "next": {
                                "type": ["string", "null"],
                                "description": "Pass as `before` for the next page",
                            },
                        },
                    },
                ),
                params=[
                    _query_param(
                        "limit",
                        "Page size",
                        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                    ),
                    _query_param("before", "Only events older than this id", {"type": "string"}),
                ],
                op_id="readAudit",
            ),
        },
        "/admin/openapi.json": {
            "get": _op("This document", _ok("OpenAPI 3.1", {"type": "object"}), op_id="openapi"),
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (text exposition format); the one path served without a token",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                },
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "scopegate admin API",
            "version": "1",
            "description": "Application lifecycle, bulk revocation and audit (admin listener only).",
        },
        "security": [{"adminToken": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "One of SCOPEGATE_ADMIN_TOKEN (comma-separated)",
                }
            },
            "schemas": schemas,
            "responses": responses,
        },
    }
