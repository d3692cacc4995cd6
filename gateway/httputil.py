"""Request and response helpers shared by the protocol endpoints (gateway/oauth) and the browser portal
(gateway/portal): urlencoded form parsing with RFC 6749's no-repeat rule, and the no-store headers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiohttp import web
from multidict import MultiDict, MultiDictProxy, MultiMapping

from gateway.errors import InvalidRequest

NO_STORE: Mapping[str, str] = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def single_params(params: MultiMapping[str], names: Iterable[str]) -> dict[str, str]:
    """The named parameters, each at most once (RFC 6749 §3.1: parameters must not be repeated)."""
    out: dict[str, str] = {}
    for name in names:
        values = params.getall(name, [])
        if len(values) > 1:
            raise InvalidRequest(f"the {name} parameter is repeated")
        if values and values[0] != "":
            out[name] = values[0]
    return out


async def read_form(request: web.Request) -> MultiDictProxy[str]:
    """The urlencoded body of a token-style request (RFC 6749 §4.1.3 requires that content type)."""
    ctype = request.content_type
    if ctype != "application/x-www-form-urlencoded":
        raise InvalidRequest("the request body must be application/x-www-form-urlencoded")
    form = await request.post()
    return MultiDictProxy(MultiDict((k, v) for k, v in form.items() if isinstance(v, str)))
