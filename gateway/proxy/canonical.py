"""Canonicalize the request target once; the canonical bytes are both what routes match and what is forwarded.

Refused (400), because some upstream would read them differently from the gateway: an encoded slash or backslash,
dot segments (raw or percent-encoded), empty segments, NUL/CR/LF and other control characters, `;` path parameters,
a fragment, double encoding (`%25XX`), and anything but origin-form. Percent-encoded unreserved characters are
decoded (RFC 3986 §6.2.2.2) and other escapes upper-cased, so `/v1/%65vents` cannot slip past the `/v1/events` rule.
The query is never matched on; it is forwarded as received once checked for characters no upstream should see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.errors import BadPath

_PLAIN_PATH = re.compile(r"^(?:/[A-Za-z0-9\-_~!$&'()*+,=:@.]+)*/?$")
_PATH_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@/%")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789abcdefABCDEF")
_QUERY_BAD = re.compile(r"[\x00-\x20\x7f-\uffff#]")


@dataclass(frozen=True, slots=True)
class Target:
    path: str  # canonical path, matched against the route table
    query: str  # raw query without '?', '' when absent
    has_query: bool

    @property
    def forward(self) -> str:
        return self.path + "?" + self.query if self.has_query else self.path


def canonicalize(raw_target: str) -> Target:
    path, qmark, query = raw_target.partition("?")
    if "#" in path:
        raise BadPath("a fragment is not allowed in a request target", reason="fragment")
    if not path.startswith("/"):
        raise BadPath("the request target must be a path (origin-form)", reason="not_origin_form")
    if query and _QUERY_BAD.search(query):
        raise BadPath("the query contains characters that are not allowed", reason="bad_query")
    if _PLAIN_PATH.match(path) is None:
        path = _decode(path)
    _check_segments(path)
    return Target(path, query, bool(qmark))


def _decode(path: str) -> str:
    out: list[str] = []
    i, n = 0, len(path)
    while i < n:
        ch = path[i]
        if ch == "%":
            hx = path[i + 1 : i + 3]
            if len(hx) != 2 or not set(hx) <= _HEX:
                raise BadPath("a malformed percent-escape in the path", reason="bad_escape")
            code = int(hx, 16)
            if code in (0x2F, 0x5C):
                raise BadPath("an encoded slash or backslash is not allowed in the path", reason="encoded_slash")
            if code < 0x20 or code == 0x7F:
                raise BadPath("control characters are not allowed in the path", reason="control_char")
            if code == 0x3B:
                raise BadPath("';' path parameters are not allowed", reason="path_params")
            if code == 0x25 and set(path[i + 3 : i + 5]) <= _HEX and len(path[i + 3 : i + 5]) == 2:
                raise BadPath("double percent-encoding is not allowed in the path", reason="double_encoding")
            decoded = chr(code)
            out.append(decoded if decoded in _UNRESERVED else "%" + hx.upper())
            i += 3
            continue
        if ch == ";":
            raise BadPath("';' path parameters are not allowed", reason="path_params")
        if ch == "\\":
            raise BadPath("a backslash is not allowed in the path", reason="backslash")
        if ch not in _PATH_CHARS:
            if ord(ch) < 0x20 or ord(ch) == 0x7F:
                raise BadPath("control characters are not allowed in the path", reason="control_char")
            raise BadPath(f"character {ch!r} must be percent-encoded", reason="bad_char")
        out.append(ch)
        i += 1
    return "".join(out)


def _check_segments(path: str) -> None:
    if "/." not in path and "//" not in path:
        return
    segments = path.split("/")
    for i, seg in enumerate(segments[1:], start=1):
        if seg in (".", ".."):
            raise BadPath("dot segments are not allowed in the path", reason="dot_segment")
        if seg == "" and i != len(segments) - 1:
            raise BadPath("empty path segments ('//') are not allowed", reason="empty_segment")
