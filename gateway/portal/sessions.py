"""Browser sessions of the authorization server: a signed, HttpOnly, SameSite=Lax cookie naming a server-side
record.

The cookie carries a random session id and its keyed signature; Redis holds the record under a keyed hash of
the id (never the id itself), so a Redis dump cannot be replayed as a cookie. CSRF tokens are derived from the
session id with the server key, so they need no storage and die with the session.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from aiohttp import web

from gateway import cookies
from gateway.keys import SERVICES
from gateway.security import Hasher, constant_time_equal
from gateway.settings import Settings

NAMESPACE = "session"


@dataclass(frozen=True, slots=True)
class Session:
    sid: str  # raw: lives only in memory and in the browser's cookie
    user_id: str
    fresh: bool = False  # just created: the response must set the cookie
    account_id: str | None = None  # upstream_session: the account the upstream named (else the user is the account)

    def key(self, hasher: Hasher) -> str:
        return session_key(hasher, self.sid)


FRESH_SESSION = web.RequestKey("fresh_session", Session)


def cookie_name(settings: Settings) -> str:
    # The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only and Path=/.
    return cookies.SESSION_SECURE if settings.secure_cookies else cookies.SESSION


def session_key(hasher: Hasher, sid: str) -> str:
    return hasher.hash("sgsess|" + sid)


def _signature(hasher: Hasher, sid: str) -> str:
    return hasher.hash("sgsess-sig|" + sid)


def csrf_token(hasher: Hasher, session: Session) -> str:
    return hasher.hash("sgcsrf|" + session.sid)


def csrf_ok(hasher: Hasher, session: Session, presented: str | None) -> bool:
    return bool(presented) and constant_time_equal(csrf_token(hasher, session), presented or "")


def _sid_from_cookie(request: web.Request) -> str | None:
    services = request.app[SERVICES]
    raw = request.cookies.get(cookie_name(services.settings), "")
    sid, dot, sig = raw.partition(".")
    if not dot or not sid or len(raw) > 200:
        return None
    if not constant_time_equal(_signature(services.hasher, sid), sig):
        return None
    return sid


async def load(request: web.Request) -> Session | None:
    """The session the browser presents, if its signature holds and the server still has it."""
    sid = _sid_from_cookie(request)
    if sid is None:
        return None
    services = request.app[SERVICES]
    record = await services.store.get_ephemeral(NAMESPACE, session_key(services.hasher, sid))
    if record is None or not isinstance(record.get("user_id"), str):
        return None
    account = record.get("account_id")
    return Session(sid=sid, user_id=record["user_id"], account_id=account if isinstance(account, str) else None)


async def create(request: web.Request, user_id: str, account_id: str | None = None) -> Session:
    """A new session (a new id at every login, so a planted cookie never becomes someone's session)."""
    services = request.app[SERVICES]
    sid = secrets.token_urlsafe(32)
    record: dict[str, object] = {"user_id": user_id, "created_at": services.clock()}
    if account_id is not None:
        record["account_id"] = account_id
    await services.store.put_ephemeral(
        NAMESPACE,
        session_key(services.hasher, sid),
        record,
        services.settings.login.session_ttl,
    )
    session = Session(sid=sid, user_id=user_id, fresh=True, account_id=account_id)
    request[FRESH_SESSION] = session  # the middleware sets the cookie on whatever response this request gets
    return session


async def destroy(request: web.Request) -> None:
    sid = _sid_from_cookie(request)
    if sid is not None:
        services = request.app[SERVICES]
        await services.store.delete_ephemeral(NAMESPACE, session_key(services.hasher, sid))


def set_cookie(response: web.StreamResponse, request: web.Request, session: Session) -> None:
    services = request.app[SERVICES]
    settings = services.settings
    response.set_cookie(
        cookie_name(settings),
        f"{session.sid}.{_signature(services.hasher, session.sid)}",
        max_age=settings.login.session_ttl,
        path="/",
        httponly=True,
        secure=settings.secure_cookies,
        samesite="Lax",
    )


def clear_cookie(response: web.StreamResponse, request: web.Request) -> None:
    settings = request.app[SERVICES].settings
    response.del_cookie(cookie_name(settings), path="/", secure=settings.secure_cookies, httponly=True, samesite="Lax")
