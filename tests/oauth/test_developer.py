"""OAuth Applications (Developer Tools): a user registers, edits and deletes their own applications, through the
HTML pages (session + CSRF form field) and the JSON twin (X-CSRF-Token header)."""

from __future__ import annotations

import asyncio
import html as htmllib
import re
from typing import Any

import redis

from gateway.issuance import start_grant
from gateway.portal.developer import PATH
from tests.oauth.helpers import ALICE_PASSWORD, STATIC_LOGIN, field, full_flow, login, token_request
from tests.oauth.helpers import Registered as HelperRegistered

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html,application/xhtml+xml"}
REDIRECT = "https://client.example/cb"


# --- helpers ---------------------------------------------------------------------------------------------------


async def csrf_of(client: Any) -> str:
    resp = await client.get(PATH, headers=JSON)
    assert resp.status == 200, await resp.text()
    token: str = (await resp.json())["csrf_token"]
    return token


async def new_form(client: Any) -> str:
    resp = await client.get(PATH + "/new", headers=HTML)
    assert resp.status == 200, await resp.text()
    return str(await resp.text())


def form_data(
    page: str,
    *,
    name: str = "Calendar Sync",
    redirect_uri: str = REDIRECT,
    server_side: bool = True,
    scopes: list[str] | None = None,
    catalog: list[str] | None = None,
) -> list[tuple[str, str]]:
    data = [("csrf", field(page, "csrf")), ("name", name), ("redirect_uri", redirect_uri)]
    if 'name="form_id"' in page:
        data.append(("form_id", field(page, "form_id")))
    if server_side:
        data.append(("server_side", "on"))
    for s in scopes if scopes is not None else (catalog or []):
        data.append(("scope", s))
    return data


def checked_scopes(page: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="scope" value="([^"]+)" checked>', page)


def all_scope_boxes(page: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="scope" value="([^"]+)"', page)


def shown_credentials(page: str) -> tuple[str, str]:
    cid = re.search(r'<code id="client-id">([^<]+)</code>', page)
    secret = re.search(r'<code id="client-secret">([^<]+)</code>', page)
    assert cid and secret, "the created page shows no client id / secret"
    return htmllib.unescape(cid.group(1)), htmllib.unescape(secret.group(1))


async def create_json(client: Any, csrf: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "Calendar Sync", "redirect_uri": REDIRECT, **fields}
    resp = await client.post(PATH, json=body, headers={**JSON, "X-CSRF-Token": csrf})
    assert resp.status == 201, await resp.text()
    out: dict[str, Any] = await resp.json()
    return out


def assert_page_headers(resp: Any) -> None:
    assert resp.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Referrer-Policy"] == "no-referrer"


async def audit_actions(services: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = await services.store.read_audit()
    return events


async def mint(services: Any, client_id: str, scopes: list[str], user_id: str = "1001") -> str:
    issued = await start_grant(
        services.store,
        services.hasher,
        client_id=client_id,
        user_id=user_id,
        scopes=scopes,
        access_ttl=600,
        refresh_ttl=3600,
    )
    return issued.access_token


# --- access ----------------------------------------------------------------------------------------------------


async def test_needs_a_session_json_401_and_pages_redirect_to_login(gw: Any) -> None:
    client, _ = gw
    assert (await client.get(PATH, headers=JSON)).status == 401
    assert (await client.post(PATH, json={"name": "x"}, headers=JSON)).status == 401
    assert (await client.delete(PATH + "/abc", headers=JSON)).status == 401
    for path in (PATH, PATH + "/new", PATH + "/abc", PATH + "/abc/delete"):
        resp = await client.get(path, headers=HTML, allow_redirects=False)
        assert resp.status == 303
        assert resp.headers["Location"].startswith("/oauth/login?next=")


async def test_login_next_returns_to_the_developer_page(gw: Any) -> None:
    client, _ = gw
    resp = await client.get("/oauth/login", params={"next": PATH})
    page = await resp.text()
    resp = await client.post(
        "/oauth/login",
        data={"username": "demo", "password": "demo", "csrf": field(page, "csrf"), "next": PATH},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == PATH


# --- register --------------------------------------------------------------------------------------------------


async def test_register_form_defaults_every_scope_ticked_and_server_side_on(gw: Any) -> None:
    client, services = gw
    await login(client)
    resp = await client.get(PATH + "/new", headers=HTML)
    assert resp.status == 200
    assert_page_headers(resp)
    page = await resp.text()
    catalog = list(services.settings.scopes)
    assert all_scope_boxes(page) == catalog
    assert checked_scopes(page) == catalog
    assert 'name="server_side" role="switch" checked' in page
    for desc in services.settings.scopes.values():
        assert htmllib.escape(desc) in page  # each scope with its description
    assert ">Create</button>" in page
    assert 'name="name" value=""' in page


async def test_list_page_has_register_button_and_nav_to_authorized_apps(gw: Any) -> None:
    client, _ = gw
    await login(client)
    resp = await client.get(PATH, headers=HTML)
    assert resp.status == 200
    assert_page_headers(resp)
    page = await resp.text()
    assert f'href="{PATH}/new">Register OAuth Application</a>' in page
    assert 'href="/account/authorized-applications"' in page
    assert "You have not registered any OAuth application yet." in page
    other = await (await client.get("/account/authorized-applications", headers=HTML)).text()
    assert f'href="{PATH}"' in other


async def test_create_through_the_form_shows_client_id_and_secret_once(
    make_gateway: Any, echo_upstream: Any, redis_url: str
) -> None:
    client, services = await make_gateway(echo_upstream.url, redis_url=redis_url, login=STATIC_LOGIN)
    await login(client)
    page = await new_form(client)
    resp = await client.post(
        PATH, data=form_data(page, scopes=["events:read", "contacts:read"]), headers=HTML, allow_redirects=False
    )
    assert resp.status == 200, await resp.text()  # rendered in the POST response, never via a redirect
    assert_page_headers(resp)
    created = await resp.text()
    client_id, secret = shown_credentials(created)
    assert secret.startswith("sgcs_")
    assert "shown only this once" in created
    assert "Location" not in resp.headers

    app = await services.store.get_app(client_id)
    assert app is not None
    assert (app.name, app.redirect_uri, app.owner, app.server_side, app.published) == (
        "Calendar Sync",
        REDIRECT,
        "1001",
        True,
        False,
    )
    assert app.scopes == ("contacts:read", "events:read")  # catalog order
    assert services.hasher.hash(secret) in await services.store.secret_hashes(client_id)
    # The row is in the list right under the banner.
    assert f'data-client-id="{client_id}"' in created

    # Never again: not on the list (HTML or JSON), not on the edit page, and not raw in Redis.
    for headers in (HTML, JSON):
        later = await (await client.get(PATH, headers=headers)).text()
        assert client_id in later and secret not in later
    edit = await (await client.get(f"{PATH}/{client_id}", headers=HTML)).text()
    assert client_id in edit and secret not in edit
    raw = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        for key in raw.scan_iter(count=1000):
            assert secret not in key
            kind = raw.type(key)
            value = {
                "string": raw.get,
                "hash": raw.hgetall,
                "set": raw.smembers,
                "stream": lambda k: raw.xrange(k),
            }.get(kind, lambda k: "")(key)
            assert secret not in str(value)
    finally:
        raw.close()

    events = [e for e in await audit_actions(services) if e.get("action") == "application.created"]
    assert events and events[0]["actor"] == "user:1001" and events[0]["client_id"] == client_id

    # The secret shown is the one that authenticates the client at the token endpoint.
    reg = HelperRegistered(app, secret)
    body = await full_flow(client, reg, scope="events:read")
    assert body["scope"] == "events:read"
    resp = await token_request(
        client,
        HelperRegistered(app, "sgcs_wrong"),
        {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
    )
    assert resp.status == 401


async def test_reloading_the_create_post_does_not_register_twice(gw: Any) -> None:
    client, services = gw
    await login(client)
    page = await new_form(client)
    data = form_data(page, catalog=list(services.settings.scopes))
    first = await client.post(PATH, data=data, headers=HTML)
    _, secret = shown_credentials(await first.text())
    again = await client.post(PATH, data=data, headers=HTML)
    assert again.status == 200
    text = await again.text()
    assert "already submitted" in text and secret not in text and 'id="client-secret"' not in text
    assert len(await services.store.list_apps("1001")) == 1
    # A fresh form registers a second one.
    await client.post(PATH, data=form_data(await new_form(client), catalog=["events:read"]), headers=HTML)
    assert len(await services.store.list_apps("1001")) == 2


async def test_server_side_off_and_unticked_scopes_are_kept(gw: Any) -> None:
    client, services = gw
    await login(client)
    page = await new_form(client)
    resp = await client.post(PATH, data=form_data(page, server_side=False, scopes=["lists:read"]), headers=HTML)
    text = await resp.text()
    cid = re.search(r'<code id="client-id">([^<]+)</code>', text)
    assert cid and 'id="client-secret"' not in text  # a public application has no secret to show
    assert "PKCE" in text and "no client secret" in text
    client_id = htmllib.unescape(cid.group(1))
    app = await services.store.get_app(client_id)
    assert app is not None and app.server_side is False and app.scopes == ("lists:read",)
    assert await services.store.secret_hashes(client_id) == []


async def test_validation_errors_rerender_the_form_with_input_kept_and_the_field_named(gw: Any) -> None:
    client, services = gw
    await login(client)
    page = await new_form(client)
    typed = form_data(
        page,
        name="My <Sync> App",
        redirect_uri="http://client.example/cb",
        server_side=False,
        scopes=["events:read", "messaging:send"],
    )
    resp = await client.post(PATH, data=typed, headers=HTML)
    assert resp.status == 422
    assert_page_headers(resp)
    text = await resp.text()
    assert re.search(r'<p class="field-error" id="redirect_uri-error">Redirect URI must use https[^<]*</p>', text)
    assert 'id="redirect_uri" name="redirect_uri" value="http://client.example/cb"' in text
    assert 'aria-describedby="redirect_uri-error"' in text
    assert 'name="name" value="My &lt;Sync&gt; App"' in text  # kept, and escaped
    assert checked_scopes(text) == ["events:read", "messaging:send"]
    assert 'role="switch" checked' not in text  # the toggle stays off as the user left it
    assert field(text, "form_id") == field(page, "form_id")
    assert "name-error" not in text
    assert await services.store.list_apps("1001") == []

    resp = await client.post(PATH, data=form_data(page, name="  ", redirect_uri="", scopes=[]), headers=HTML)
    assert resp.status == 422
    text = await resp.text()
    assert 'id="name-error">Name is required.</p>' in text
    assert 'id="redirect_uri-error">Redirect URI is required.</p>' in text
    assert 'id="scopes-error">Tick at least one scope.</p>' in text
    assert checked_scopes(text) == []

    # Fixing the field then works with the same form.
    resp = await client.post(
        PATH,
        data=form_data(page, name="My Sync", redirect_uri="http://127.0.0.1:9/cb", scopes=["events:read"]),
        headers=HTML,
    )
    assert resp.status == 200
    shown_credentials(await resp.text())


async def test_json_create_returns_the_secret_once_and_validates(gw: Any) -> None:
    client, services = gw
    await login(client)
    csrf = await csrf_of(client)
    body = await create_json(client, csrf, scopes=["events:read"], server_side=False)
    assert "client_secret" not in body  # public: no secret
    assert body["client_type"] == "public" and body["token_endpoint_auth_methods"] == ["none"]
    assert body["scopes"] == ["events:read"] and body["server_side"] is False and body["published"] is False
    listed = await (await client.get(PATH, headers=JSON)).json()
    assert [a["client_id"] for a in listed["applications"]] == [body["client_id"]]
    assert "client_secret" not in listed["applications"][0]
    one = await (await client.get(f"{PATH}/{body['client_id']}", headers=JSON)).json()
    assert one["client_id"] == body["client_id"] and "client_secret" not in one

    # Defaults as on the form: every scope, server-side on.
    defaults = await create_json(client, csrf)
    assert defaults["scopes"] == list(services.settings.scopes) and defaults["server_side"] is True
    assert defaults["client_secret"].startswith("sgcs_") and defaults["client_type"] == "confidential"

    bad = await client.post(
        PATH,
        json={"name": "", "redirect_uri": "ftp://x", "owner": "2002", "published": True, "scopes": ["nope:read"]},
        headers={**JSON, "X-CSRF-Token": csrf},
    )
    assert bad.status == 422
    fields = (await bad.json())["fields"]
    assert fields["owner"] == "cannot be changed" and fields["published"] == "cannot be changed"
    bad = await client.post(
        PATH,
        json={"name": "", "redirect_uri": "ftp://x", "scopes": ["nope:read"]},
        headers={**JSON, "X-CSRF-Token": csrf},
    )
    fields = (await bad.json())["fields"]
    assert set(fields) == {"name", "redirect_uri", "scopes"}
    assert len(await services.store.list_apps("1001")) == 2


# --- CSRF ------------------------------------------------------------------------------------------------------


async def test_every_change_needs_the_csrf_token(gw: Any) -> None:
    client, services = gw
    await login(client)
    csrf = await csrf_of(client)
    app = await create_json(client, csrf, scopes=["events:read"])
    cid = app["client_id"]
    page = await new_form(client)
    forged = [(k, "forged" if k == "csrf" else v) for k, v in form_data(page, scopes=["events:read"])]
    missing = [(k, v) for k, v in form_data(page, scopes=["events:read"]) if k != "csrf"]
    for data in (forged, missing):
        assert (await client.post(PATH, data=data, headers=HTML)).status == 403
        assert (await client.post(f"{PATH}/{cid}", data=data, headers=HTML)).status == 403
        delete_data = [(k, v) for k, v in data if k == "csrf"]
        assert (await client.post(f"{PATH}/{cid}/delete", data=delete_data or {"x": "1"}, headers=HTML)).status == 403
    for headers in ({**JSON}, {**JSON, "X-CSRF-Token": "forged"}):
        assert (await client.post(PATH, json={"name": "x", "redirect_uri": REDIRECT}, headers=headers)).status == 403
        assert (await client.patch(f"{PATH}/{cid}", json={"name": "Changed"}, headers=headers)).status == 403
        assert (await client.delete(f"{PATH}/{cid}", headers=headers)).status == 403
    apps = await services.store.list_apps("1001")
    assert [(a.client_id, a.name) for a in apps] == [(cid, "Calendar Sync")]


# --- owner only ------------------------------------------------------------------------------------------------


async def test_only_the_owner_sees_or_changes_an_application(gw: Any) -> None:
    client, services = gw
    await login(client, "alice", ALICE_PASSWORD)
    alice_app = await create_json(client, await csrf_of(client), name="Alice Tool", scopes=["events:read"])
    cid = alice_app["client_id"]

    await login(client)  # demo now
    csrf = await csrf_of(client)
    assert (await (await client.get(PATH, headers=JSON)).json())["applications"] == []
    assert "Alice Tool" not in await (await client.get(PATH, headers=HTML)).text()
    assert (await client.get(f"{PATH}/{cid}", headers=JSON)).status == 404
    resp = await client.get(f"{PATH}/{cid}", headers=HTML)
    assert resp.status == 404 and "Alice Tool" not in await resp.text()
    assert (await client.get(f"{PATH}/{cid}/delete", headers=HTML)).status == 404
    assert (
        await client.patch(f"{PATH}/{cid}", json={"name": "Mine"}, headers={**JSON, "X-CSRF-Token": csrf})
    ).status == 404
    assert (await client.delete(f"{PATH}/{cid}", headers={**JSON, "X-CSRF-Token": csrf})).status == 404
    edit_page = await new_form(client)
    assert (
        await client.post(f"{PATH}/{cid}", data=form_data(edit_page, name="Mine", scopes=["events:read"]), headers=HTML)
    ).status == 404
    assert (await client.post(f"{PATH}/{cid}/delete", data={"csrf": csrf}, headers=HTML)).status == 404
    # An unknown id answers exactly like someone else's.
    unknown = await client.get(f"{PATH}/nosuchclient", headers=JSON)
    assert unknown.status == 404
    app = await services.store.get_app(cid)
    assert app is not None and app.name == "Alice Tool" and app.owner == "2002"


# --- edit ------------------------------------------------------------------------------------------------------


async def test_edit_form_changes_fields_but_keeps_client_id_and_secret(gw: Any) -> None:
    client, services = gw
    await login(client)
    page = await new_form(client)
    created = await (
        await client.post(PATH, data=form_data(page, catalog=list(services.settings.scopes)), headers=HTML)
    ).text()
    cid, secret = shown_credentials(created)
    hashes = await services.store.secret_hashes(cid)

    resp = await client.get(f"{PATH}/{cid}", headers=HTML)
    assert resp.status == 200
    assert_page_headers(resp)
    edit = await resp.text()
    assert checked_scopes(edit) == list(services.settings.scopes)
    assert 'id="client-id">' + cid in edit and secret not in edit
    assert "Every access token issued to this application is revoked immediately" in edit
    data = form_data(
        edit,
        name="Calendar Sync 2",
        redirect_uri="https://client.example/cb2",
        server_side=False,
        scopes=["contacts:read", "events:read"],
    )
    resp = await client.post(f"{PATH}/{cid}", data=data, headers=HTML, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"{PATH}?done=updated"
    listed = await (await client.get(resp.headers["Location"], headers=HTML)).text()
    assert "Application saved." in listed and "Calendar Sync 2" in listed and secret not in listed

    app = await services.store.get_app(cid)
    assert app is not None
    assert (app.client_id, app.name, app.redirect_uri, app.server_side, app.scopes) == (
        cid,
        "Calendar Sync 2",
        "https://client.example/cb2",
        False,
        ("contacts:read", "events:read"),
    )
    assert hashes and await services.store.secret_hashes(cid) == []  # Server-Side off: the secret is deleted
    [event] = [e for e in await audit_actions(services) if e.get("action") == "application.updated"]
    assert event["actor"] == "user:1001" and event["client_id"] == cid
    assert event["changes"]["name"] == {"from": "Calendar Sync", "to": "Calendar Sync 2"}
    assert "csrf" not in str(event) and secret not in str(event)


async def test_edit_validation_error_keeps_input(gw: Any) -> None:
    client, services = gw
    await login(client)
    cid = (await create_json(client, await csrf_of(client), scopes=["events:read"]))["client_id"]
    edit = await (await client.get(f"{PATH}/{cid}", headers=HTML)).text()
    resp = await client.post(
        f"{PATH}/{cid}",
        data=form_data(edit, name="Renamed", redirect_uri="https://x/#frag", scopes=["lists:read"]),
        headers=HTML,
    )
    assert resp.status == 422
    text = await resp.text()
    assert 'id="redirect_uri-error">Redirect URI must not have a fragment.</p>' in text
    assert 'name="name" value="Renamed"' in text and checked_scopes(text) == ["lists:read"]
    assert 'id="client-id">' + cid in text
    app = await services.store.get_app(cid)
    assert app is not None and app.name == "Calendar Sync" and app.scopes == ("events:read",)


async def test_json_patch_and_post_edit(gw: Any) -> None:
    client, services = gw
    await login(client)
    csrf = await csrf_of(client)
    created = await create_json(client, csrf, scopes=["events:read", "contacts:read"])
    cid = created["client_id"]
    hdrs = {**JSON, "X-CSRF-Token": csrf}
    resp = await client.patch(f"{PATH}/{cid}", json={"name": "Renamed", "server_side": False}, headers=hdrs)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["client_id"] == cid and body["name"] == "Renamed" and body["server_side"] is False
    assert body["scopes"] == ["contacts:read", "events:read"] and "client_secret" not in body
    resp = await client.post(f"{PATH}/{cid}", json={"scopes": ["events:read"]}, headers=hdrs)
    assert resp.status == 200 and (await resp.json())["scopes"] == ["events:read"]
    for bad in (
        {"client_id": "x"},
        {"client_secret": "x"},
        {"owner": "2002"},
        {"published": True},
        {"colour": "red"},
        {"scopes": []},
        {"redirect_uri": "http://example.com/cb"},
    ):
        resp = await client.patch(f"{PATH}/{cid}", json=bad, headers=hdrs)
        assert resp.status == 422, bad
        assert set((await resp.json())["fields"]) == set(bad)
    app = await services.store.get_app(cid)
    assert app is not None and app.owner == "1001" and app.published is False and app.name == "Renamed"


async def test_unticking_a_scope_takes_effect_on_a_live_token_at_once(gw: Any) -> None:
    client, services = gw
    await login(client)
    csrf = await csrf_of(client)
    cid = (await create_json(client, csrf, scopes=["events:read", "contacts:read"]))["client_id"]
    token = await mint(services, cid, ["events:read", "contacts:read"])
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/v1/events", headers=bearer)).status == 200  # warms this process's cache
    assert (await client.get("/v1/contacts", headers=bearer)).status == 200

    edit = await (await client.get(f"{PATH}/{cid}", headers=HTML)).text()
    resp = await client.post(
        f"{PATH}/{cid}", data=form_data(edit, scopes=["contacts:read"]), headers=HTML, allow_redirects=False
    )
    assert resp.status == 303
    denied = await client.get("/v1/events", headers=bearer)
    assert denied.status == 403
    assert 'error="insufficient_scope"' in denied.headers["WWW-Authenticate"]
    assert (await client.get("/v1/contacts", headers=bearer)).status == 200

    # Ticking it again brings it back (the token still carries it).
    resp = await client.patch(
        f"{PATH}/{cid}", json={"scopes": ["events:read", "contacts:read"]}, headers={**JSON, "X-CSRF-Token": csrf}
    )
    assert resp.status == 200
    assert (await client.get("/v1/events", headers=bearer)).status == 200


# --- delete ----------------------------------------------------------------------------------------------------


async def test_delete_from_the_edit_screen_confirms_then_revokes_tokens_at_once(gw: Any) -> None:
    client, services = gw
    await login(client)
    cid = (await create_json(client, await csrf_of(client), scopes=["events:read"]))["client_id"]
    token = await mint(services, cid, ["events:read"])
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/v1/events", headers=bearer)).status == 200

    edit = await (await client.get(f"{PATH}/{cid}", headers=HTML)).text()
    assert f'<a class="button danger-button" href="{PATH}/{cid}/delete">Delete</a>' in edit
    resp = await client.get(f"{PATH}/{cid}/delete", headers=HTML)
    assert resp.status == 200
    assert_page_headers(resp)
    confirm = await resp.text()
    assert "Every access token issued to this application is revoked immediately" in confirm
    assert await services.store.get_app(cid) is not None  # the confirmation page changes nothing

    resp = await client.post(
        f"{PATH}/{cid}/delete", data={"csrf": field(confirm, "csrf")}, headers=HTML, allow_redirects=False
    )
    assert resp.status == 303 and resp.headers["Location"] == f"{PATH}?done=deleted"
    assert (await client.get("/v1/events", headers=bearer)).status == 401
    assert await services.store.get_app(cid) is None
    listed = await (await client.get(f"{PATH}?done=deleted", headers=HTML)).text()
    assert "Application deleted." in listed and cid not in listed
    assert (await client.get(f"{PATH}/{cid}", headers=HTML)).status == 404

    events = await audit_actions(services)
    deleted = [e for e in events if e.get("action") == "application.deleted"]
    assert deleted and deleted[0]["actor"] == "user:1001" and deleted[0]["client_id"] == cid
    for _ in range(200):  # the background clean-up records its own event
        events = await audit_actions(services)
        if any(e.get("action") == "application.cleaned_up" and e.get("client_id") == cid for e in events):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("no application.cleaned_up event")


async def test_json_delete_revokes_the_full_flow_tokens(gw: Any) -> None:
    client, services = gw
    await login(client)
    csrf = await csrf_of(client)
    created = await create_json(client, csrf, scopes=["events:read"])
    app = await services.store.get_app(created["client_id"])
    assert app is not None
    body = await full_flow(client, HelperRegistered(app, created["client_secret"]))
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await client.get("/v1/events", headers=bearer)).status == 200
    resp = await client.delete(f"{PATH}/{app.client_id}", headers={**JSON, "X-CSRF-Token": csrf})
    assert resp.status == 200 and (await resp.json())["deleted"] is True
    assert (await client.get("/v1/events", headers=bearer)).status == 401
    refreshed = await token_request(
        client,
        HelperRegistered(app, created["client_secret"]),
        {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
    )
    assert refreshed.status in (400, 401)
    assert (await client.delete(f"{PATH}/{app.client_id}", headers={**JSON, "X-CSRF-Token": csrf})).status == 404
