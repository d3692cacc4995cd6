"""GET /admin/openapi.json describes every endpoint the admin listener serves, and nothing else."""

from __future__ import annotations

import re

from admin.app import build_admin_app
from tests.admin.conftest import AUTH


async def test_document_describes_every_route(env):
    resp = await env.admin.get("/admin/openapi.json", headers=AUTH)
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    described = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    app = build_admin_app(env.services)
    served = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        served.add((path, route.method))
    assert served == described


async def test_refs_resolve_and_operations_are_complete(env):
    doc = await (await env.admin.get("/admin/openapi.json", headers=AUTH)).json()
    text = str(doc)
    for ref in set(re.findall(r"#/components/(\w+)/(\w+)", text)):
        assert ref[1] in doc["components"][ref[0]], ref
    ids = set()
    for path, ops in doc["paths"].items():
        params = set(re.findall(r"{(\w+)}", path))
        for op in ops.values():
            assert op["operationId"] not in ids
            ids.add(op["operationId"])
            assert "401" in op["responses"] or op.get("security") == []
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == params, (path, op["operationId"])
    scopes = doc["components"]["schemas"]["NewApplication"]["properties"]["scopes"]["items"]["enum"]
    assert scopes == list(env.services.settings.scopes)
    assert "client_secret" not in doc["components"]["schemas"]["Application"]["properties"]
