"""Who the user is, per `login.mode`: static users (a form), a trusted SSO header, or the upstream's own
session.

Each source answers `require_user`: the user and a gateway session bound to them (created when the browser has
none for that user, so consent and account actions always have a session to bind their CSRF tokens to), or the
response that gets the browser logged in.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web

from gateway import cookies
from gateway.errors import ErrorPage, LoginRequired, SignInRequired, UpstreamUnavailable
from gateway.httputil import read_form, single_params
from gateway.keys import SERVICES
from gateway.network import client_address, peer_in
from gateway.portal import sessions
from gateway.portal.pages import redirect, render_page
from gateway.portal.pending import form_target
from gateway.portal.sessions import Session
from gateway.portal.throttle import KNOWN_SIGN_IN, KNOWN_SIGN_IN_TTL, LOGIN_FAILURES, sign_in_windows
from gateway.security import constant_time_equal, hash_password, verify_password

log = logging.getLogger("scopegate.portal.login")

_USER_ID = re.compile(r"^[A-Za-z0-9._@:+\-]{1,128}$")
_LOGIN_NONCE_COOKIE = cookies.LOGIN_NONCE
_DEFAULT_AFTER_LOGIN = "/account/authorized-applications"


@dataclass
class _Http:
    """The client session that asks the upstream who is logged in (made on first use, closed at cleanup)."""

    session: aiohttp.ClientSession | None = None
    dummy_hash: list[str] = field(default_factory=list)


LOGIN_STATE = web.AppKey("oauth_login_state", _Http)


def setup(app: web.Application) -> None:
    app[LOGIN_STATE] = _Http()

    async def close(app: web.Application) -> None:
        session = app[LOGIN_STATE].session
        if session is not None:
            await session.close()

    app.on_cleanup.append(close)


def safe_local_path(value: str | None) -> str | None:
    """A return path that stays on this server: only our own browser-facing paths, never `//host` or `\\`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(c) < 0x20 for c in value):
        return None
    if not (value.startswith("/oauth/authorize") or value.startswith("/account/")):
        return None
    return value


def _valid_user_id(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and _USER_ID.match(value) else None


async def _upstream_user(request: web.Request) -> tuple[str, str | None] | None:
    """Ask the upstream, with the browser's cookies, who is logged in: 200 + JSON with the user id (and, when
    present, the account id), else nobody."""
    services = request.app[SERVICES]
    login = services.settings.login
    state = request.app[LOGIN_STATE]
    if state.session is None:
        state.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=services.settings.connect_timeout + 5, connect=services.settings.connect_timeout
            ),
            cookie_jar=aiohttp.DummyCookieJar(),  # never remember one user's cookies for the next
        )
    headers = {"Accept": "application/json"}
    cookie = request.headers.get("Cookie")
    if cookie:
        headers["Cookie"] = cookie
    try:
        async with state.session.get(login.session_url, headers=headers, allow_redirects=False) as resp:
            if resp.status != 200:
                return None
            body = await resp.read()
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise UpstreamUnavailable("the login service is unavailable") from exc
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    user_id = _valid_user_id(data.get(login.user_id_field))
    if user_id is None:
        return None
    return user_id, _valid_user_id(data.get(login.account_id_field))


def _header_user(request: web.Request) -> str | None:
    """The SSO proxy's header, believed only when the connection comes from one of the configured proxies."""
    login = request.app[SERVICES].settings.login
    if not peer_in(request.remote, login.trusted_proxies):
        return None
    values = request.headers.getall(login.header, [])
    return _valid_user_id(values[0].strip()) if len(values) == 1 else None


async def require_user(request: web.Request, return_to: str) -> Session:
    """The signed-in user's session; else SignInRequired, which sends the browser to sign in and back to
    `return_to`."""
    services = request.app[SERVICES]
    login = services.settings.login
    session = await sessions.load(request)
    if login.mode == "static":
        if session is not None:
            return session
        raise SignInRequired(
            "the user is not signed in", location=f"/oauth/login?{urlencode({'next': return_to})}", redirect_status=303
        )
    account: str | None = None
    if login.mode == "trusted_header":
        user_id = _header_user(request)
        if user_id is None:
            raise SignInRequired("You are not signed in through the single sign-on service.")
    else:
        found = await _upstream_user(request)
        if found is None:
            back = services.settings.issuer + return_to  # from public_url, never from the request's Host
            sep = "&" if "?" in login.login_url else "?"
            raise SignInRequired(
                "the user is not signed in",
                location=f"{login.login_url}{sep}{quote(login.return_param)}={quote(back, safe='')}",
                redirect_status=302,
            )
        user_id, account = found
    if session is not None and session.user_id == user_id and session.account_id == account:
        return session
    return await sessions.create(request, user_id, account)


async def identity_still_matches(request: web.Request, session: Session) -> bool:
    """For the modes where another system says who is signed in (SSO header, upstream session): does it still name
    this session's user? A decision made in a browser whose user changed must not count for the previous one."""
    mode = request.app[SERVICES].settings.login.mode
    if mode == "static":
        return True  # the session is the identity
    if mode == "trusted_header":
        return _header_user(request) == session.user_id
    found = await _upstream_user(request)
    return found is not None and found[0] == session.user_id


async def session_for(request: web.Request, html: bool, return_to: str) -> Session:
    """The signed-in user's session for an account page. A page (`html`) sends the browser to sign in; a JSON
    caller gets a 401 instead of a sign-in redirect it could not follow."""
    if html:
        return await require_user(request, return_to)
    try:
        session = await sessions.load(request)
        if session is None and request.app[SERVICES].settings.login.mode != "static":
            session = await require_user(request, return_to)
    except SignInRequired:
        session = None
    if session is None:
        raise LoginRequired("sign in first: no valid session cookie")
    return session


# --- the static login form ----------------------------------------------------------------------------------


def _login_csrf(request: web.Request, nonce: str) -> str:
    return request.app[SERVICES].hasher.hash("sglogin|" + nonce)


async def _form(request: web.Request, next_path: str, message: str, status: int, username: str = "") -> web.Response:
    # Login CSRF: the form token is tied to a nonce cookie, so a third-party site cannot log the browser in as
    # the attacker (who would then see what the victim authorizes).
    nonce = secrets.token_urlsafe(24)
    # Signing in on the way to an authorization request may end at the client (a returning user's code, or an
    # error): the form may lead to its verified redirect URI, as the consent page's does (gateway.portal.pending).
    resp = render_page(
        "login.html",
        status=status,
        title="Sign in",
        message=message,
        next=next_path,
        csrf=_login_csrf(request, nonce),
        username=username,
        form_target=await form_target(request, next_path),
    )
    settings = request.app[SERVICES].settings
    resp.set_cookie(
        _LOGIN_NONCE_COOKIE,
        nonce,
        max_age=900,
        path="/oauth/login",
        httponly=True,
        secure=settings.secure_cookies,
        samesite="Strict",
    )
    return resp


async def login_page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    mode = services.settings.login.mode
    next_path = safe_local_path(request.query.get("next")) or _DEFAULT_AFTER_LOGIN
    if mode != "static":
        await require_user(request, next_path)
        return redirect(next_path, status=303)
    return await _form(request, next_path, "", 200)


async def _dummy_hash(request: web.Request, loop: asyncio.AbstractEventLoop) -> str:
    state = request.app[LOGIN_STATE]
    if not state.dummy_hash:
        state.dummy_hash.append(await loop.run_in_executor(None, hash_password, secrets.token_urlsafe(16)))
    return state.dummy_hash[0]


async def login_submit(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    settings = services.settings
    if settings.login.mode != "static":
        raise ErrorPage("Not available", "This server does not sign users in with a password.", status=404)
    form = single_params(await read_form(request), ("username", "password", "csrf", "next"))
    next_path = safe_local_path(form.get("next")) or _DEFAULT_AFTER_LOGIN
    nonce = request.cookies.get(_LOGIN_NONCE_COOKIE, "")
    if not nonce or not constant_time_equal(_login_csrf(request, nonce), form.get("csrf", "")):
        return await _form(request, next_path, "Your sign-in form expired. Please try again.", 400)

    username = form.get("username", "")
    address = client_address(request.remote, request.headers.getall("X-Forwarded-For", []), settings.trusted_proxies)
    local, per_user = sign_in_windows(services, username, address)
    # Counted before scrypt runs (given back on success), so parallel guesses cannot all be checked.
    wait = await LOGIN_FAILURES.take(services, local)
    if wait is None:
        wait = await LOGIN_FAILURES.take(services, [per_user])
        # The slower per-user window: once strangers have used it up, only addresses this user has signed in
        # from before still get their password checked.
        known = f"{username[:128]}|{address}"
        if wait is not None and await services.store.get_ephemeral(KNOWN_SIGN_IN, known) is not None:
            wait = None
    if wait is not None:
        resp = await _form(
            request, next_path, "Too many failed attempts. Please wait and try again.", 429, username=username[:128]
        )
        resp.headers["Retry-After"] = str(wait)
        return resp

    user = next((u for u in settings.login.users if u.username == username), None)
    loop = asyncio.get_running_loop()
    # scrypt takes tens of milliseconds: off the event loop. Unknown users still pay for one hash (no timing
    # oracle).
    stored = user.password_hash if user is not None else await _dummy_hash(request, loop)
    ok = await loop.run_in_executor(None, verify_password, form.get("password", ""), stored)
    if user is None or not ok:
        log.info("login failed")
        # The username stays in its field (only the password is asked again).
        return await _form(request, next_path, "Invalid username or password.", 401, username=username[:128])
    await LOGIN_FAILURES.give_back(services, [*local, per_user])
    await services.store.put_ephemeral(KNOWN_SIGN_IN, f"{username[:128]}|{address}", {}, KNOWN_SIGN_IN_TTL)

    await sessions.destroy(request)
    await sessions.create(request, user.user_id)  # the middleware sets its cookie on the response
    resp = redirect(next_path, status=303)
    resp.del_cookie(_LOGIN_NONCE_COOKIE, path="/oauth/login")
    return resp


async def logout(request: web.Request) -> web.StreamResponse:
    session = await sessions.load(request)
    form = single_params(await read_form(request), ("csrf",))
    services = request.app[SERVICES]
    if session is None or not sessions.csrf_ok(services.hasher, session, form.get("csrf")):
        raise ErrorPage("Not signed out", "The sign-out request was not valid.")
    await sessions.destroy(request)
    resp = redirect("/oauth/login", status=303)
    sessions.clear_cookie(resp, request)
    return resp
