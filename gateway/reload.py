"""Reloading the route map without a restart (SIGHUP): validate the whole file again, then swap the route table in
one step. Any error, or a change to anything but `routes`, keeps the running configuration and says why."""

from __future__ import annotations

import dataclasses
import logging

from aiohttp import web

from gateway.errors import ConfigError
from gateway.keys import SERVICES
from gateway.proxy.handler import DECIDER
from gateway.proxy.routes import RouteTable
from gateway.settings import Settings, load_settings

log = logging.getLogger("scopegate")

# Made per start or from the environment, so a fresh load may differ without the operator changing anything.
_NOT_COMPARED = frozenset({"routes", "secret_key", "secret_key_generated", "admin_tokens"})


def reload_routes(app: web.Application) -> bool:
    services = app[SERVICES]
    current = services.settings
    try:
        new = load_settings(current.source)
    except ConfigError as exc:
        log.error("reload refused; the running configuration stays. %s", exc)
        return False
    changed = [
        f.name
        for f in dataclasses.fields(Settings)
        if f.name not in _NOT_COMPARED and getattr(new, f.name) != getattr(current, f.name)
    ]
    if changed:
        log.error(
            "reload refused; the running configuration stays: %s can change only with a restart", ", ".join(changed)
        )
        return False
    app[DECIDER].use_table(RouteTable(list(new.routes)))
    services.settings = dataclasses.replace(current, routes=new.routes)
    log.info("route map reloaded from %s: %d routes", current.source, len(new.routes))
    return True
