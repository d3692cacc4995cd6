"""The compiled route table: method + canonical path -> the rule that governs it.

Templates: `{name}` matches one segment, `{name:path}` the rest (one or more segments, last only).
Most specific wins, segment by segment from the left: literal > parameter > tail. Two rules of the same shape for
the same method tie, which is a configuration error, so matching never has to break a tie at run time.
Literal paths are one dict lookup; the rest walk a small segment trie. HEAD is governed by the GET rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.routespec import METHODS, Route, TemplateProblem, find_ties, parse_template

__all__ = ["METHODS", "Route", "RouteTable", "TemplateProblem", "find_ties", "parse_template"]


@dataclass
class _Node:
    literal: dict[str, _Node] = field(default_factory=dict)
    param: _Node | None = None
    here: dict[str, Route] = field(default_factory=dict)  # method -> route ending at this node
    tail: dict[str, Route] = field(default_factory=dict)  # method -> route whose {x:path} starts here


class RouteTable:
    def __init__(self, routes: list[Route]) -> None:
        """Build from routes already validated by `find_conflicts` (ties are rejected at config load)."""
        self._exact: dict[str, dict[str, Route]] = {}
        self._root = _Node()
        self._has_templates = False
        for route in routes:
            shape, err = parse_template(route.path)
            assert err is None, err
            methods = route.methods | ({"HEAD"} if "GET" in route.methods else set())
            if all(s.startswith("lit:") for s in shape):
                slot = self._exact.setdefault(route.path, {})
                for m in methods:
                    slot.setdefault(m, route)
            self._has_templates = self._has_templates or any(not s.startswith("lit:") for s in shape)
            node = self._root
            for i, s in enumerate(shape):
                if s == "tail":
                    for m in methods:
                        node.tail.setdefault(m, route)
                    break
                if s == "param":
                    node.param = node.param or _Node()
                    node = node.param
                else:
                    node = node.literal.setdefault(s[4:], _Node())
                if i == len(shape) - 1:
                    for m in methods:
                        node.here.setdefault(m, route)
            if not shape:
                for m in methods:
                    node.here.setdefault(m, route)

    def match(self, method: str, path: str) -> Route | None:
        """`path` is canonical (see canonical.py): no query, no dot or empty segments."""
        exact = self._exact.get(path)
        if exact is not None:
            hit = exact.get(method)
            if hit is not None or not self._has_templates:
                return hit
        if not self._has_templates:
            return None
        segments = path[1:].split("/") if path != "/" else []
        return _walk(self._root, segments, 0, method)


def _walk(node: _Node, segs: list[str], i: int, method: str) -> Route | None:
    if i == len(segs):
        return node.here.get(method)
    child = node.literal.get(segs[i])
    if child is not None:
        hit = _walk(child, segs, i + 1, method)
        if hit is not None:
            return hit
    if node.param is not None and segs[i] != "":
        hit = _walk(node.param, segs, i + 1, method)
        if hit is not None:
            return hit
    return node.tail.get(method)
