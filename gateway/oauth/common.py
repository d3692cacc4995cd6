"""Shared pieces of the authorization server: page headers, templates, form parsing, scope resolution,
redirects."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from string import Template
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import web
from multidict import MultiDict, MultiDictProxy, MultiMapping

from gateway.errors import OAuthError
from gateway.models import Application
from gateway.redirect_uri import RedirectUri
from gateway.settings import Settings

_TEMPLATES = Path(__file__).parent / "templates"
_cache: dict[str, Template] = {}

# Every page of the authorization server is a security surface: it must never be framed (clickjacking of the
# consent button), cached (it carries CSRF tokens and pending requests) or leak its URL (state, codes) in
# Referer.
PAGE_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

NO_STORE: Mapping[str, str] = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def render(name: str, **values: str) -> str:
    """Fill a template; callers pass values escaped with `esc` (or fragments built from escaped parts)."""
    tpl = _cache.get(name)
    if tpl is None:
        tpl = Template((_TEMPLATES / name).read_text(encoding="utf-8"))
        _cache[name] = tpl
    return tpl.substitute(values)


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


_CSP_SOURCE = re.compile(r"[A-Za-z][A-Za-z0-9.\-]*://[A-Za-z0-9.\-\[\]:]+")


def csp_source(origin: str) -> str:
    """A validated origin (`RedirectUri.origin`) as a CSP source expression: the one way an origin enters a page
    header. Anything outside `[A-Za-z0-9.:-[]/]` (a `;` or `,` that would end the directive or the policy, a quote,
    whitespace) is refused, whatever its source."""
    if _CSP_SOURCE.fullmatch(origin) is None:
        raise ValueError(f"not an origin a CSP may name: {origin!r}")
    return origin


def page(body: str, status: int = 200, *, form_target: RedirectUri | None = None) -> web.Response:
    """An HTML page with the security headers. `form_target`: the validated redirect URI the page's form may end
    up at (Chromium applies CSP form-action to redirects too, so the consent form needs the client's origin)."""
    headers = dict(PAGE_HEADERS)
    if form_target is not None:
        headers["Content-Security-Policy"] = headers["Content-Security-Policy"].replace(
            "form-action 'self'", f"form-action 'self' {csp_source(form_target.origin)}")
    return web.Response(status=status, text=body, content_type="text/html", charset="utf-8", headers=headers)


def layout(title: str, content: str, *, size: str = "narrow") -> str:
    """Wrap a page's content in the one shared frame (head, styles); `size` is narrow, medium or wide."""
    return render("base.html", title=esc(title), size=size, content=content)


DEVELOPER_TOOLS_TABS = (
    ("authorized", "/account/authorized-applications", "Authorized Applications"),
    ("developer", "/account/developer/applications", "OAuth Applications"),
)


def developer_tools_page(title: str, content: str, *, active: str, status: int = 200,
                         size: str = "wide") -> web.Response:
    """A page of Settings > Integrations > Developer Tools, with its tabs."""
    current = ' aria-current="page"'
    nav = "".join(f'<a href="{href}"{current if key == active else ""}>{label}</a>'
                  for key, href, label in DEVELOPER_TOOLS_TABS)
    return page(layout(title, render("tools.html", nav=nav, content=content), size=size), status=status)


def error_page(title: str, message: str, status: int = 400) -> web.Response:
    """The HTML error page of the browser-facing endpoints (never a redirect to an unverified URI)."""
    return page(layout(title, render("error.html", title=esc(title), message=esc(message))), status=status)


def redirect(location: str, status: int = 302) -> web.Response:
    return web.Response(status=status, headers={**PAGE_HEADERS, "Location": location})


def with_params(uri: str, params: Mapping[str, str]) -> str:
    """Append parameters to a registered redirect URI, keeping the query it already has (RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def single_params(params: MultiMapping[str], names: Iterable[str]) -> dict[str, str]:
    """The named parameters, each at most once (RFC 6749 §3.1: parameters must not be repeated)."""
    out: dict[str, str] = {}
    for name in names:
        values = params.getall(name, [])
        if len(values) > 1:
            raise OAuthError("invalid_request", f"the {name} parameter is repeated")
        if values and values[0] != "":
            out[name] = values[0]
    return out


async def read_form(request: web.Request) -> MultiDictProxy[str]:
    """The urlencoded body of a token-style request (RFC 6749 §4.1.3 requires that content type)."""
    ctype = request.content_type
    if ctype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the request body must be application/x-www-form-urlencoded")
    form = await request.post()
    return MultiDictProxy(MultiDict((k, v) for k, v in form.items() if isinstance(v, str)))


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


def safe_local_path(value: str | None) -> str | None:
    """A return path that stays on this server: only our own browser-facing paths, never `//host` or `\\`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(c) < 0x20 for c in value):
        return None
    if not (value.startswith("/oauth/authorize") or value.startswith("/account/")):
        return None
    return value
