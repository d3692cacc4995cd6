"""Shared pieces of the protocol endpoints: scope resolution."""

from __future__ import annotations

from gateway.errors import InvalidScope
from gateway.models import Application
from gateway.settings import Settings


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
            raise InvalidScope("the scope parameter must be scope names separated by single spaces")
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
            raise InvalidScope(f"scope not allowed for this application: {' '.join(sorted(set(bad)))}")
    if not wanted:
        raise InvalidScope("the scope parameter names no scope")
    return tuple(s for s in settings.scopes if s in wanted)
