"""Redirect URIs on the browser side: the developer pages (HTML form and JSON twin) refuse every bad character
class on create and edit with 422 naming `redirect_uri` and store the normalized form; a JSON body nested too deeply
is a 400; the consent page's CSP names exactly the registered origin and always carries one frame-ancestors 'none';
the authorization and token endpoints compare redirect URIs in normalized form."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from gateway.models import Application
from gateway.portal.developer import PATH
from gateway.security import TokenKind, mint
from tests.oauth.helpers import (
    approve,
    authorize_params,
    consent_page,
    exchange,
    field,
    login,
    pkce_pair,
    query_of,
    register,
)
from tests.unit.test_redirect_uri import BAD, GOOD

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html,application/xhtml+xml"}
REDIRECT = "https://client.example/cb"


async def csrf_of(client: Any) -> str:
    resp = await client.get(PATH, headers=JSON)
    assert resp.status == 200, await resp.text()
    token: str = (await resp.json())["csrf_token"]
    return token


def form(page: str, redirect_uri: str) -> list[tuple[str, str]]:
    data = [
        ("csrf", field(page, "csrf")),
        ("name", "Calendar Sync"),
        ("redirect_uri", redirect_uri),
        ("server_side", "on"),
        ("scope", "events:read"),
    ]
    if 'name="form_id"' in page:
        data.append(("form_id", field(page, "form_id")))
    return data


async def create_json(client: Any, csrf: str, redirect_uri: str = REDIRECT) -> dict[str, Any]:
    resp = await client.post(
        PATH, json={"name": "Calendar Sync", "redirect_uri": redirect_uri}, headers={**JSON, "X-CSRF-Token": csrf}
    )
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


def only_frame_ancestors_none(csp: str) -> None:
    assert csp.count("frame-ancestors") == 1, csp
    assert csp.count("frame-ancestors 'none'") == 1, csp
    assert "\n" not in csp and "\r" not in csp


# --- developer pages: create and edit ---------------------------------------------------------------------------


@pytest.mark.parametrize(("uri", "why"), BAD)
async def test_bad_redirect_uri_is_refused_by_the_developer_pages(gw: Any, uri: str, why: str) -> None:
    client, services = gw
    await login(client)
    csrf = await csrf_of(client)
    json_headers = {**JSON, "X-CSRF-Token": csrf}

    # JSON twin, create.
    resp = await client.post(PATH, json={"name": "Calendar Sync", "redirect_uri": uri}, headers=json_headers)
    assert resp.status == 422, await resp.text()
    body = await resp.json()
    assert body["error"] == "invalid" and list(body["fields"]) == ["redirect_uri"]
    assert why in body["fields"]["redirect_uri"]

    # HTML form, create: the form comes back with the message next to the field.
    page = await (await client.get(PATH + "/new", headers=HTML)).text()
    resp = await client.post(PATH, data=form(page, uri), headers=HTML)
    assert resp.status == 422
    text = await resp.text()
    assert re.search(r'<p class="field-error" id="redirect_uri-error">Redirect URI [^<]+</p>', text), text
    assert 'aria-describedby="redirect_uri-error"' in text
    only_frame_ancestors_none(resp.headers["Content-Security-Policy"])
    assert await services.store.list_apps("1001") == []

    # Edit, both ways: refused, and the stored URI is unchanged.
    cid = (await create_json(client, csrf))["client_id"]
    for method in (client.patch, client.post):
        resp = await method(f"{PATH}/{cid}", json={"redirect_uri": uri}, headers=json_headers)
        assert resp.status == 422, await resp.text()
        body = await resp.json()
        assert list(body["fields"]) == ["redirect_uri"] and why in body["fields"]["redirect_uri"]
    edit = await (await client.get(f"{PATH}/{cid}", headers=HTML)).text()
    resp = await client.post(f"{PATH}/{cid}", data=form(edit, uri), headers=HTML)
    assert resp.status == 422
    assert 'id="redirect_uri-error">Redirect URI ' in await resp.text()
    app = await services.store.get_app(cid)
    assert app is not None and app.redirect_uri == REDIRECT


@pytest.mark.parametrize(("uri", "normalized"), GOOD)
async def test_good_redirect_uri_is_stored_normalized_by_the_developer_pages(
    gw: Any, uri: str, normalized: str
) -> None:
    client, services = gw
    await login(client)
    csrf = await csrf_of(client)
    created = await create_json(client, csrf, uri)
    assert created["redirect_uri"] == normalized
    app = await services.store.get_app(created["client_id"])
    assert app is not None and app.redirect_uri == normalized

    page = await (await client.get(PATH + "/new", headers=HTML)).text()
    resp = await client.post(PATH, data=form(page, uri), headers=HTML)
    assert resp.status == 200, await resp.text()
    cid = re.search(r'<code id="client-id">([^<]+)</code>', await resp.text())
    assert cid
    app = await services.store.get_app(cid.group(1))
    assert app is not None and app.redirect_uri == normalized

    edit = await (await client.get(f"{PATH}/{app.client_id}", headers=HTML)).text()
    resp = await client.post(f"{PATH}/{app.client_id}", data=form(edit, REDIRECT), headers=HTML, allow_redirects=False)
    assert resp.status == 303
    resp = await client.patch(
        f"{PATH}/{app.client_id}", json={"redirect_uri": uri}, headers={**JSON, "X-CSRF-Token": csrf}
    )
    assert resp.status == 200 and (await resp.json())["redirect_uri"] == normalized
    app = await services.store.get_app(app.client_id)
    assert app is not None and app.redirect_uri == normalized


# --- developer pages: deeply nested JSON ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000,
        b"{" * 100_000,
        b'{"name": ' + b"[" * 100_000,
        b'{"name": "x", "scopes": ' + b"[" * 40 + b"]" * 40 + b"}",
        b'{"name": ' * 50_000,
    ],
)
async def test_deeply_nested_json_is_400_on_the_json_twin(gw: Any, raw: bytes) -> None:
    client, services = gw
    await login(client)
    csrf = await csrf_of(client)
    headers = {**JSON, "X-CSRF-Token": csrf, "Content-Type": "application/json"}
    resp = await client.post(PATH, data=raw, headers=headers)
    assert resp.status == 400, await resp.text()
    body = await resp.json()
    assert body["error"] == "invalid_request" and "32 levels" in body["error_description"]
    cid = (await create_json(client, csrf))["client_id"]
    for method in (client.patch, client.post):
        resp = await method(f"{PATH}/{cid}", data=raw, headers=headers)
        assert resp.status == 400, await resp.text()
        assert (await resp.json())["error"] == "invalid_request"
    apps = await services.store.list_apps("1001")
    assert [a.client_id for a in apps] == [cid] and apps[0].name == "Calendar Sync"


async def test_invalid_but_shallow_json_keeps_its_422(gw: Any) -> None:
    client, _ = gw
    await login(client)
    csrf = await csrf_of(client)
    headers = {**JSON, "X-CSRF-Token": csrf, "Content-Type": "application/json"}
    for raw in (b"{", b"[1]", b"[" * 10 + b"]" * 10):
        resp = await client.post(PATH, data=raw, headers=headers)
        assert resp.status == 422, raw
        assert list((await resp.json())["fields"]) == ["body"]


# --- the consent page's CSP ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "origin"),
    [
        ("https://client.example/cb", "https://client.example"),
        ("https://Client.Example:443/cb?x=1", "https://client.example"),
        ("https://client.example:8443/a/b;c=d,e", "https://client.example:8443"),
        ("https://203.0.113.5:8443/cb", "https://203.0.113.5:8443"),
        ("https://[2001:db8::1]/cb", "https://[2001:db8::1]"),
        ("http://127.0.0.1:9/callback", "http://127.0.0.1:9"),
        ("http://localhost/cb", "http://localhost"),
        ("http://[::1]:9/cb", "http://[::1]:9"),
    ],
)
async def test_consent_csp_names_exactly_the_registered_origin(gw: Any, uri: str, origin: str) -> None:
    client, services = gw
    reg = await register(services, redirect_uri=uri)
    await login(client)
    resp = await client.get("/oauth/authorize", params=authorize_params(reg), allow_redirects=False)
    assert resp.status == 200, await resp.text()
    csp = resp.headers["Content-Security-Policy"]
    only_frame_ancestors_none(csp)
    directives = [d.strip() for d in csp.split(";")]
    assert f"form-action 'self' {origin}" in directives, csp
    assert csp.count(";") == 5, csp  # the six directives of PAGE_HEADERS, none added
    assert resp.headers["X-Frame-Options"] == "DENY"


async def test_a_stored_uri_that_no_longer_parses_is_never_used(gw: Any) -> None:
    """An application stored before registration was strict (here written straight into the store) gets an error
    page, with the page's own CSP, instead of a consent page or a redirect to it."""
    client, services = gw
    bad = "https://a.example;frame-ancestors http: https:/cb"
    now = time.time()
    app = Application(
        client_id="legacyclient0000000001",
        name="Legacy",
        redirect_uri=bad,
        server_side=True,
        scopes=("events:read",),
        owner="1001",
        published=True,
        created_at=now,
        updated_at=now,
    )
    await services.store.create_app(app, services.hasher.hash(mint(TokenKind.CLIENT_SECRET)))
    await login(client)
    params = {"response_type": "code", "client_id": app.client_id, "redirect_uri": bad, "state": "s"}
    resp = await client.get("/oauth/authorize", params=params, allow_redirects=False)
    assert resp.status == 400
    assert "Location" not in resp.headers
    csp = resp.headers["Content-Security-Policy"]
    only_frame_ancestors_none(csp)
    assert "a.example" not in csp and "form-action 'self';" in csp


# --- normalized comparison at authorize and token ---------------------------------------------------------------


async def test_the_string_the_client_registered_still_matches(gw: Any) -> None:
    """Registered as `https://Client.Example:443/cb` (stored `https://client.example/cb`): the client keeps sending
    what it registered, at authorize and at token; the redirect goes to the stored, normalized URI."""
    client, services = gw
    typed = "https://Client.Example:443/cb"
    reg = await register(services, redirect_uri=typed)
    assert reg.app.redirect_uri == "https://client.example/cb"
    await login(client)
    verifier, challenge = pkce_pair()
    html = await consent_page(client, reg, redirect_uri=typed, code_challenge=challenge, code_challenge_method="S256")
    location = await approve(client, html)
    assert location.startswith("https://client.example/cb?")
    code = query_of(location)["code"]
    resp = await exchange(client, reg, code, verifier=verifier, redirect_uri=typed)
    assert resp.status == 200, await resp.text()


async def test_token_endpoint_still_refuses_another_uri(gw: Any) -> None:
    client, services = gw
    reg = await register(services)
    await login(client)
    verifier, challenge = pkce_pair()
    html = await consent_page(client, reg, code_challenge=challenge, code_challenge_method="S256")
    code = query_of(await approve(client, html))["code"]
    resp = await exchange(client, reg, code, verifier=verifier, redirect_uri="https://client.example/cb2")
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_grant"
