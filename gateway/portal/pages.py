"""Every HTML page of the public listener: Jinja2 templates that escape by default, one base layout, and the
security headers every page carries.

Templates live in gateway/portal/templates (shipped as package data). Autoescaping is on for every template, so a
value reaches the markup escaped unless a template says otherwise (none does); no page is assembled from Python
strings.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import resources

import jinja2
from aiohttp import web

from gateway.redirect_uri import RedirectUri

# Every page of the authorization server is a security surface: it must never be framed (clickjacking of the
# consent button), cached (it carries CSRF tokens and pending requests) or leak its URL (state, codes) in
# Referer. Scripts: none, except the one static file SCRIPT_PATH, admitted per response by a fresh nonce (never
# 'unsafe-inline'); `page` fills the nonce in.
PAGE_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; script-src 'none'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

# Settings > Integrations > Developer Tools: the tabs of templates/tools.html.
DEVELOPER_TOOLS_TABS = (
    ("authorized", "/account/authorized-applications", "Authorized Applications"),
    ("developer", "/account/developer/applications", "OAuth Applications"),
)


# The pages' one script (copy buttons), a static file served by the app (portal.setup_routes).
SCRIPT_PATH = "/account/assets/pages.js"
SCRIPT = resources.files("gateway.portal").joinpath("static", "pages.js").read_bytes()
SCRIPT_HEADERS: Mapping[str, str] = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


def _datetime(ts: object) -> str:
    if not isinstance(ts, float | int):
        return "never"
    return datetime.fromtimestamp(float(ts), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("gateway.portal", "templates"),
    autoescape=jinja2.select_autoescape(["html"], default_for_string=True, default=True),
    undefined=jinja2.StrictUndefined,  # a misspelt variable is an error, never an empty string
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["date"] = _date
_ENV.filters["datetime"] = _datetime
_ENV.globals["tabs"] = DEVELOPER_TOOLS_TABS


def render(template: str, **context: object) -> str:
    """A template rendered with `context` (every value escaped where it lands)."""
    return _ENV.get_template(template).render(**context)


# `scheme://host[:port]`, or a private-use scheme-source (`com.example.app:`, a reverse domain name).
_CSP_SOURCE = re.compile(r"[A-Za-z][A-Za-z0-9.\-]*://[A-Za-z0-9.\-\[\]:]+|[a-z][a-z0-9\-]*(?:\.[a-z0-9][a-z0-9\-]*)+:")


def csp_source(origin: str) -> str:
    """A validated origin (`RedirectUri.origin`) as a CSP source expression: the one way an origin enters a page
    header. Anything outside `[A-Za-z0-9.:-[]/]` (a `;` or `,` that would end the directive or the policy, a quote,
    whitespace) is refused, whatever its source."""
    if _CSP_SOURCE.fullmatch(origin) is None:
        raise ValueError(f"not an origin a CSP may name: {origin!r}")
    return origin


def page(
    body: str, status: int = 200, *, form_target: RedirectUri | None = None, script_nonce: str | None = None
) -> web.Response:
    """An HTML page with the security headers. `form_target`: the validated redirect URI the page's form may end
    up at (Chromium applies CSP form-action to redirects too, so the consent form needs the client's origin).
    `script_nonce`: the nonce of the page's one <script> element (SCRIPT_PATH); without it no script runs."""
    headers = dict(PAGE_HEADERS)
    csp = headers["Content-Security-Policy"]
    if form_target is not None:
        csp = csp.replace("form-action 'self'", f"form-action 'self' {csp_source(form_target.origin)}")
    if script_nonce is not None:
        csp = csp.replace("script-src 'none'", f"script-src 'nonce-{script_nonce}'")
    headers["Content-Security-Policy"] = csp
    return web.Response(status=status, text=body, content_type="text/html", charset="utf-8", headers=headers)


def render_page(
    template: str, *, status: int = 200, form_target: RedirectUri | None = None, **context: object
) -> web.Response:
    """A template as a page with the security headers (see `page`); a fresh script nonce per response."""
    nonce = secrets.token_urlsafe(18)
    return page(
        render(template, script_nonce=nonce, script_path=SCRIPT_PATH, **context),
        status=status,
        form_target=form_target,
        script_nonce=nonce,
    )


async def script(request: web.Request) -> web.Response:
    """GET SCRIPT_PATH: the pages' static script."""
    return web.Response(body=SCRIPT, content_type="text/javascript", charset="utf-8", headers=dict(SCRIPT_HEADERS))


def error_page(title: str, message: str, status: int = 400) -> web.Response:
    """The HTML error page of the browser-facing endpoints (never a redirect to an unverified URI)."""
    return render_page("error.html", status=status, title=title, message=message)


def redirect(location: str, status: int = 302) -> web.Response:
    return web.Response(status=status, headers={**PAGE_HEADERS, "Location": location})
