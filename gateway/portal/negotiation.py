"""Content negotiation of the account pages, which answer both a browser (HTML) and the portal (JSON)."""

from __future__ import annotations

from aiohttp import web


def prefers_html(request: web.Request) -> bool:
    """For GET: HTML only when the browser asks for it ahead of JSON (or without JSON); otherwise JSON."""
    accept = request.headers.get("Accept", "")
    html_at = accept.find("text/html")
    json_at = accept.find("application/json")
    return html_at >= 0 and (json_at < 0 or html_at < json_at)


def is_form(request: web.Request) -> bool:
    """A change from an HTML page: the pages' forms post urlencoded; everything else is the JSON twin."""
    return request.content_type == "application/x-www-form-urlencoded"
