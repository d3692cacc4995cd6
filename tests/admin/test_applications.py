"""Application lifecycle over the admin API: create, read, list, edit, delete, rotate; field rules (422)."""

from __future__ import annotations

import pytest

from tests.admin.conftest import AUTH, NEW_APP


async def test_create_returns_the_secret_once_with_seed_defaults(env):
    created = await env.create()
    secret = created["client_secret"]
    assert created["client_id"] and secret
    assert created["server_side"] is True
    assert created["published"] is False
    assert created["scopes"] == list(env.services.settings.scopes)  # every scope ticked by default
    assert created["name"] == NEW_APP["name"] and created["owner"] == "1001"
    # The secret authenticates (its keyed hash is what is stored, never the secret).
    hashes = await env.services.store.secret_hashes(created["client_id"])
    assert hashes == [env.services.hasher.hash(secret)]


async def test_secret_never_returned_by_get_list_or_patch(env):
    created = await env.create()
    cid, secret = created["client_id"], created["client_secret"]
    for resp in (
        await env.admin.get(f"/admin/applications/{cid}", headers=AUTH),
        await env.admin.get("/admin/applications", headers=AUTH),
        await env.admin.get("/admin/applications?owner=1001", headers=AUTH),
        await env.admin.patch(f"/admin/applications/{cid}", json={"name": "Renamed"}, headers=AUTH),
        await env.admin.get("/admin/audit", headers=AUTH),
    ):
        assert resp.status == 200
        text = await resp.text()
        assert secret not in text
        assert '"client_secret":' not in text
    one = await (await env.admin.get(f"/admin/applications/{cid}", headers=AUTH)).json()
    assert set(one) == {
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
    }


async def test_list_and_owner_filter(env):
    a = await env.create(owner="1001", name="A")
    b = await env.create(owner="2002", name="B")
    resp = await env.admin.get("/admin/applications", headers=AUTH)
    assert [x["client_id"] for x in (await resp.json())["applications"]] == [a["client_id"], b["client_id"]]
    resp = await env.admin.get("/admin/applications", params={"owner": "2002"}, headers=AUTH)
    assert [x["client_id"] for x in (await resp.json())["applications"]] == [b["client_id"]]
    resp = await env.admin.get("/admin/applications", params={"owner": "nobody"}, headers=AUTH)
    assert (await resp.json())["applications"] == []


async def test_get_unknown_is_404(env):
    resp = await env.admin.get("/admin/applications/nope", headers=AUTH)
    assert resp.status == 404
    assert (await resp.json())["error"] == "not_found"


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("http://acme.example/cb", "https"),
        ("https://acme.example/cb#frag", "fragment"),
        ("https://user:pw@acme.example/cb", "userinfo"),
        ("https://user@acme.example/cb", "userinfo"),
        ("https://*.acme.example/cb", "wildcard"),
        ("https://acme.example/*", "wildcard"),
        ("/relative/callback", "absolute"),
        ("acme.example/cb", "absolute"),
        ("ftp://acme.example/cb", "absolute"),
        ("", "required"),
    ],
)
async def test_bad_redirect_uri_is_422_naming_the_field(env, uri, why):
    resp = await env.admin.post("/admin/applications", json={**NEW_APP, "redirect_uri": uri}, headers=AUTH)
    assert resp.status == 422
    body = await resp.json()
    assert body["error"] == "invalid"
    assert list(body["fields"]) == ["redirect_uri"]
    assert why in body["fields"]["redirect_uri"]
    assert await env.services.store.list_apps() == []


@pytest.mark.parametrize(
    "uri",
    ["http://127.0.0.1:8765/cb", "http://localhost/cb", "http://[::1]:9/cb", "https://acme.example/cb?x=1"],
)
async def test_loopback_http_and_https_redirects_are_accepted(env, uri):
    created = await env.create(redirect_uri=uri)
    assert created["redirect_uri"] == uri


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": 5}, "name"),
        ({"scopes": ["events:read", "events:destroy"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"scopes": "events:read"}, "scopes"),
        ({"server_side": "yes"}, "server_side"),
        ({"published": 1}, "published"),
        ({"owner": ""}, "owner"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_bad_fields_are_422_naming_the_field(env, fields, bad):
    resp = await env.admin.post("/admin/applications", json={**NEW_APP, **fields}, headers=AUTH)
    assert resp.status == 422, await resp.text()
    assert bad in (await resp.json())["fields"]


async def test_missing_required_fields_are_all_named(env):
    resp = await env.admin.post("/admin/applications", json={}, headers=AUTH)
    assert resp.status == 422
    assert set((await resp.json())["fields"]) == {"name", "redirect_uri", "owner"}


@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]", b'"a string"', b"", b"\xff\xfe"])
async def test_bad_json_is_400(env, data):
    resp = await env.admin.post("/admin/applications", data=data, headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status == 400
    assert (await resp.json())["error"] == "bad_request"


async def test_non_json_content_type_is_400(env):
    resp = await env.admin.post(
        "/admin/applications",
        data="name=x",
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status == 400


async def test_public_client_and_chosen_scopes(env):
    created = await env.create(server_side=False, scopes=["events:write", "contacts:read"], published=True)
    assert created["server_side"] is False
    assert created["client_type"] == "public" and created["token_endpoint_auth_methods"] == ["none"]
    assert "client_secret" not in created  # a public application has no secret
    assert await env.services.store.secret_hashes(created["client_id"]) == []
    assert created["published"] is True
    assert created["scopes"] == ["contacts:read", "events:write"]  # catalog order


async def test_patch_keeps_client_id_and_secret(env):
    created = await env.create()
    cid, secret = created["client_id"], created["client_secret"]
    before = await env.services.store.secret_hashes(cid)
    resp = await env.admin.patch(
        f"/admin/applications/{cid}",
        json={
            "name": "New name",
            "redirect_uri": "https://new.example/cb",
            "server_side": False,
            "scopes": ["events:read"],
            "published": True,
        },
        headers=AUTH,
    )
    assert resp.status == 200, await resp.text()
    edited = await resp.json()
    assert edited["client_id"] == cid
    assert "client_secret" not in edited
    assert edited["name"] == "New name"
    assert edited["redirect_uri"] == "https://new.example/cb"
    assert edited["server_side"] is False and edited["published"] is True
    assert edited["scopes"] == ["events:read"]
    assert edited["owner"] == "1001" and edited["created_at"] == created["created_at"]
    # Server-Side turned off: the application became public, and its secret is deleted.
    assert before == [env.services.hasher.hash(secret)]
    assert await env.services.store.secret_hashes(cid) == []
    assert edited["client_type"] == "public" and edited["token_endpoint_auth_methods"] == ["none"]
    got = await (await env.admin.get(f"/admin/applications/{cid}", headers=AUTH)).json()
    assert got == edited


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"client_id": "mine-now"}, "client_id"),
        ({"client_secret": "guess"}, "client_secret"),
        ({"owner": "2002"}, "owner"),
        ({"redirect_uri": "https://acme.example/cb#x"}, "redirect_uri"),
        ({"scopes": ["nope"]}, "scopes"),
        ({"name": ""}, "name"),
    ],
)
async def test_patch_rejects_fixed_and_bad_fields(env, fields, bad):
    created = await env.create()
    cid = created["client_id"]
    resp = await env.admin.patch(f"/admin/applications/{cid}", json=fields, headers=AUTH)
    assert resp.status == 422
    assert bad in (await resp.json())["fields"]
    app = await env.services.store.get_app(cid)
    assert app is not None and app.client_id == cid and app.owner == "1001"
    assert app.name == NEW_APP["name"]


async def test_patch_unknown_is_404_and_creates_nothing(env):
    resp = await env.admin.patch("/admin/applications/nope", json={"name": "x"}, headers=AUTH)
    assert resp.status == 404
    assert await env.services.store.list_apps() == []
    assert await env.services.store.get_app("nope") is None


async def test_delete_then_second_delete_is_404(env):
    created = await env.create()
    cid = created["client_id"]
    resp = await env.admin.delete(f"/admin/applications/{cid}", headers=AUTH)
    assert resp.status == 200
    body = await resp.json()
    assert body["client_id"] == cid and body["deleted"] is True
    assert (await env.admin.get(f"/admin/applications/{cid}", headers=AUTH)).status == 404
    assert (await env.admin.delete(f"/admin/applications/{cid}", headers=AUTH)).status == 404
    assert (await env.admin.patch(f"/admin/applications/{cid}", json={"name": "x"}, headers=AUTH)).status == 404
    assert (await env.admin.post(f"/admin/applications/{cid}/secret", headers=AUTH)).status == 404
    listed = await (await env.admin.get("/admin/applications", headers=AUTH)).json()
    assert listed == {"applications": []}
    # Its secret no longer authenticates.
    assert await env.services.store.secret_hashes(cid) == []


async def test_rotate_shows_new_secret_once_and_old_stops_without_grace(env):
    created = await env.create()
    cid, old = created["client_id"], created["client_secret"]
    resp = await env.admin.post(f"/admin/applications/{cid}/secret", headers=AUTH)
    assert resp.status == 200
    body = await resp.json()
    new = body["client_secret"]
    assert new != old and body["client_id"] == cid
    assert body["previous_secret_valid_until"] is None
    hasher = env.services.hasher
    assert await env.services.store.secret_hashes(cid) == [hasher.hash(new)]
    for resp in (
        await env.admin.get(f"/admin/applications/{cid}", headers=AUTH),
        await env.admin.get("/admin/applications", headers=AUTH),
    ):
        assert new not in await resp.text()


async def test_rotate_keeps_old_secret_for_the_configured_grace_period(make_admin):
    env = await make_admin(admin={"secret_grace_period": 120})
    created = await env.create()
    cid, old = created["client_id"], created["client_secret"]
    body = await (await env.admin.post(f"/admin/applications/{cid}/secret", headers=AUTH)).json()
    assert body["previous_secret_valid_until"] is not None
    hashes = set(await env.services.store.secret_hashes(cid))
    hasher = env.services.hasher
    assert hashes == {hasher.hash(old), hasher.hash(body["client_secret"])}


async def test_rotate_unknown_is_404(env):
    resp = await env.admin.post("/admin/applications/nope/secret", headers=AUTH)
    assert resp.status == 404
