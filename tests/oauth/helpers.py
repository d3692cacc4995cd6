"""Helpers that drive the browser side of the flow (login form, authorize, consent) with an aiohttp TestClient."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp.test_utils import TestClient

from gateway import applications
from gateway.models import Application
from gateway.security import hash_password, s256_challenge
from gateway.services import Services

DEMO = {"username": "demo", "user_id": "1001", "password": "demo"}
ALICE_PASSWORD = "alice-password-1"
ALICE_HASH = hash_password(ALICE_PASSWORD)
DEMO_HASH = "scrypt$16384$8$1$2e5poX_rzy2z-nXoJ0om9w==$lxolwNLMhRmxN4RibhSr_-IKyglyepYsJc-4Mx24KxE="

USERS = [
    {"username": "demo", "user_id": "1001", "password_hash": DEMO_HASH},
    {"username": "alice", "user_id": "2002", "password_hash": ALICE_HASH},
]
STATIC_LOGIN = {"mode": "static", "users": USERS}
REDIRECT = "https://client.example/cb"
ISSUER = "http://127.0.0.1:8080"  # demo.yaml's public_url

Client = TestClient[Any, Any]


@dataclass
class Registered:
    app: Application
    secret: str

    @property
    def client_id(self) -> str:
        return self.app.client_id


async def register(
    services: Services,
    *,
    owner: str = "1001",
    server_side: bool = True,
    scopes: list[str] | None = None,
    published: bool = True,
    redirect_uri: str = REDIRECT,
    name: str = "Calendar Sync",
) -> Registered:
    fields: dict[str, object] = {
        "name": name,
        "redirect_uri": redirect_uri,
        "owner": owner,
        "server_side": server_side,
        "published": published,
    }
    if scopes is not None:
        fields["scopes"] = scopes
    reg = await applications.register(services.store, services.hasher, list(services.settings.scopes), fields)
    return Registered(reg.application, reg.client_secret or "")  # "": a public application has no secret


def field(html: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert m, f"no field {name} in page"
    return m.group(1)


async def login(client: Client, username: str = "demo", password: str = "demo") -> None:
    resp = await client.get("/oauth/login")
    assert resp.status == 200
    csrf = field(await resp.text(), "csrf")
    resp = await client.post(
        "/oauth/login",
        data={"username": username, "password": password, "csrf": csrf, "next": "/account/authorized-applications"},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, s256_challenge(verifier)


def authorize_params(reg: Registered, **extra: str | None) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": reg.client_id,
        "redirect_uri": reg.app.redirect_uri,
        "state": "st-123",
    }
    for k, v in extra.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    return params


async def consent_page(client: Client, reg: Registered, **extra: str | None) -> str:
    resp = await client.get("/oauth/authorize", params=authorize_params(reg, **extra), allow_redirects=False)
    assert resp.status == 200, (resp.status, resp.headers.get("Location"), await resp.text())
    return await resp.text()


async def approve(client: Client, html: str, decision: str = "approve", headers: dict[str, str] | None = None) -> str:
    resp = await client.post(
        "/oauth/consent",
        data={"request_id": field(html, "request_id"), "csrf": field(html, "csrf"), "decision": decision},
        headers=headers,
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    return resp.headers["Location"]


async def get_code(client: Client, reg: Registered, **extra: str | None) -> str:
    """Authorize (consenting if asked) and return the code from the redirect."""
    resp = await client.get("/oauth/authorize", params=authorize_params(reg, **extra), allow_redirects=False)
    if resp.status == 200:
        location = await approve(client, await resp.text())
    else:
        assert resp.status == 302, await resp.text()
        location = resp.headers["Location"]
    q = query_of(location)
    assert "code" in q, location
    assert q["iss"] == ISSUER
    return q["code"]


async def exchange(
    client: Client,
    reg: Registered,
    code: str,
    *,
    verifier: str | None = None,
    basic: bool = True,
    redirect_uri: str | None = None,
) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri or reg.app.redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    return await token_request(client, reg, data, basic=basic)


async def token_request(
    client: Client, reg: Registered, data: dict[str, str], *, basic: bool = True, path: str = "/oauth/token"
) -> Any:
    headers: dict[str, str] = {}
    data = dict(data)
    if not reg.app.server_side:
        data["client_id"] = reg.client_id
    elif basic:
        headers["Authorization"] = basic_header(reg.client_id, reg.secret)
    else:
        data["client_id"] = reg.client_id
        data["client_secret"] = reg.secret
    return await client.post(path, data=data, headers=headers)


def basic_header(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


async def full_flow(client: Client, reg: Registered, scope: str | None = None) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    extra: dict[str, str | None] = {"code_challenge": challenge, "code_challenge_method": "S256"}
    if scope is not None:
        extra["scope"] = scope
    code = await get_code(client, reg, **extra)
    resp = await exchange(client, reg, code, verifier=verifier)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


class SecondBrowser:
    """Another browser (own cookie jar) against the same running test server."""

    def __init__(self, client: Client) -> None:
        import aiohttp

        self._base = client
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    def get(self, path: str, **kw: Any) -> Any:
        return self.session.get(self._base.make_url(path), **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.session.post(self._base.make_url(path), **kw)

    async def close(self) -> None:
        await self.session.close()
