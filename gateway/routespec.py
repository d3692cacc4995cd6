"""Route rules as configured: what a rule is, how a path template is shaped, which rules tie.

A leaf: the settings loader validates routes with it, and the proxy's RouteTable (proxy/routes.py) compiles them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}$")
_LITERAL_SEGMENT = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,=:@%]+$")


@dataclass(frozen=True, slots=True)
class Route:
    id: str
    methods: frozenset[str]
    path: str
    scopes: tuple[str, ...]  # every one is required
    public: bool = False
    max_body: int | None = None  # bytes; None means the global limit


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    index: int
    field: str
    message: str


def parse_template(path: str) -> tuple[tuple[str, ...], str | None]:
    """Split a template into a shape: ('lit:v1', 'lit:events', 'param') and an error message if invalid."""
    if not path.startswith("/"):
        return (), "must start with '/'"
    if path == "/":
        return (), None
    segments = path[1:].split("/")
    shape: list[str] = []
    for i, seg in enumerate(segments):
        m = _PARAM.match(seg)
        if m:
            if m.group(2):
                if i != len(segments) - 1:
                    return (), "a {name:path} tail must be the last segment"
                shape.append("tail")
            else:
                shape.append("param")
        elif seg in ("", ".", ".."):
            return (), "empty and dot segments are not allowed"
        elif "{" in seg or "}" in seg or not _LITERAL_SEGMENT.match(seg) or ";" in seg:
            return (), f"segment {seg!r} is neither a literal nor {{name}} / {{name:path}}"
        else:
            shape.append("lit:" + seg)
    return tuple(shape), None


def find_ties(routes: list[Route]) -> list[tuple[int, int, str]]:
    """Pairs (earlier index, later index, method) of rules with the same shape and a shared method."""
    seen: dict[tuple[tuple[str, ...], str], int] = {}
    ties: list[tuple[int, int, str]] = []
    for idx, route in enumerate(routes):
        shape, err = parse_template(route.path)
        if err is not None:
            continue
        for m in sorted(route.methods):
            first = seen.setdefault((shape, m), idx)
            if first != idx:
                ties.append((first, idx, m))
    return ties
