"""Shared pieces of the protocol endpoints: scope resolution and redirect URIs with parameters."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gateway.errors import OAuthError
from gateway.models import Application
from gateway.settings import Settings


def with_params(uri: str, params: Mapping[str, str]) -> str:
    """Append parameters to a registered redirect URI, keeping the query it already has (RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def resolve_scopes(requested: str | None, app: Application, settings: Settings) -> tuple[str, ...]:
    """The scopes a request means, in catalog order.

    Omitted = the application's ticked scopes; an alias expands (`*` = every ticked scope); anything unknown
    or not ticked is rejected, never silently dropped.
    """
    ticked = set(app.scopes)
    if requested is None:
        wanted = set(ticked)
    else:
        names = requested.split(" ")
        if any(n == "" for n in names):
            raise OAuthError("invalid_scope",
                             "the scope parameter must be scope names separated by single spaces")
        wanted = set()
        bad: list[str] = []
        for name in names:
            alias = settings.scope_aliases.get(name)
            if alias is not None:
                wanted |= ticked if alias == ("*",) else set(alias)
                if alias != ("*",):
                    bad.extend(s for s in alias if s not in ticked)
            elif name not in settings.scopes or name not in ticked:
                bad.append(name)
            else:
                wanted.add(name)
        if bad:
            raise OAuthError("invalid_scope",
                             f"scope not allowed for this application: {' '.join(sorted(set(bad)))}")
    if not wanted:
        raise OAuthError("invalid_scope", "the scope parameter names no scope")
    return tuple(s for s in settings.scopes if s in wanted)
