"""Who a page is about, in words a person reads: display names, accounts, and the signed-in viewer every page
shows (with its sign-out form).

The model, per `login.mode`:
- static and trusted_header (SSO): one user is one account. The account id is the user id, and whoever authorized
  an application for an account is that account's one user.
- upstream_session: the upstream's session response may name the account (`login.account_id_field`); when it
  does, the session records it and the pages show it. Authorizations are still kept per user, so "Authorized by"
  is the user who approved the consent screen.

A display name is the static user's `username`; the other modes know only ids, so the id is the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from gateway.portal import sessions
from gateway.portal.sessions import Session
from gateway.security import Hasher
from gateway.settings import Settings


def display_name(settings: Settings, user_id: str) -> str:
    """The name a person recognizes: the static user's username, else the user id."""
    if settings.login.mode == "static":
        for user in settings.login.users:
            if user.user_id == user_id:
                return user.username
    return user_id


def account_id(session: Session) -> str:
    """The account the session acts for: the upstream's account id when it named one, else the user (one user is
    one account)."""
    return session.account_id or session.user_id


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person a page is shown to: named in the page header, with a sign-out form (logout is a POST
    with the session's CSRF token)."""

    name: str
    csrf: str


def viewer(settings: Settings, hasher: Hasher, session: Session) -> Viewer:
    return Viewer(name=display_name(settings, session.user_id), csrf=sessions.csrf_token(hasher, session))


class ConsentNames(TypedDict):
    viewer: Viewer
    user_name: str
    owner_is_viewer: bool
    owner_name: str
    redirect_origin: str


def consent_names(
    settings: Settings, hasher: Hasher, session: Session, owner: str, redirect_origin: str
) -> ConsentNames:
    """What the consent screen says about the people and the place involved: who is signed in (by name), who
    registered the application ("you" when it is the viewer's own), where approving sends the browser."""
    return {
        "viewer": viewer(settings, hasher, session),
        "user_name": display_name(settings, session.user_id),
        "owner_is_viewer": bool(owner) and owner == session.user_id,
        "owner_name": display_name(settings, owner) if owner else "",
        "redirect_origin": redirect_origin,
    }
