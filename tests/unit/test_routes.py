"""Route matching: most specific wins, HEAD follows GET, unmatched is None (denied)."""

from __future__ import annotations

from gateway.proxy.routes import Route, RouteTable, find_ties, parse_template


def r(rid: str, methods: set[str], path: str, scope: str = "s") -> Route:
    return Route(rid, frozenset(methods), path, (scope,))


TABLE = RouteTable(
    [
        r("list", {"GET"}, "/v1/events"),
        r("write", {"POST", "PUT", "DELETE"}, "/v1/events"),
        r("one", {"GET"}, "/v1/events/{id}"),
        r("special", {"GET"}, "/v1/events/today"),
        r("param-first", {"GET"}, "/v1/{resource}/export"),
        r("files", {"GET"}, "/v1/files/{rest:path}"),
        r("root", {"GET"}, "/"),
    ]
)


def match(method: str, path: str) -> str | None:
    route = TABLE.match(method, path)
    return route.id if route else None


def test_literal_beats_parameter_beats_tail() -> None:
    assert match("GET", "/v1/events/today") == "special"
    assert match("GET", "/v1/events/42") == "one"
    # Specificity is decided segment by segment from the left: "events" (literal) beats "{resource}".
    assert match("GET", "/v1/events/export") == "one"
    assert match("GET", "/v1/contacts/export") == "param-first"
    assert match("GET", "/v1/files/a/b/c.txt") == "files"
    assert match("GET", "/v1/files/x") == "files"


def test_method_selects_rule_and_head_follows_get() -> None:
    assert match("GET", "/v1/events") == "list"
    assert match("HEAD", "/v1/events") == "list"
    assert match("POST", "/v1/events") == "write"
    assert match("DELETE", "/v1/events") == "write"
    assert match("PATCH", "/v1/events") is None
    assert match("HEAD", "/v1/events/1") == "one"


def test_unmatched_is_denied() -> None:
    assert match("GET", "/v2/events") is None
    assert match("GET", "/v1/files") is None  # a tail needs at least one segment
    assert match("GET", "/v1/events/1/2") is None
    assert match("GET", "/v1/events/") is None
    assert match("GET", "/") == "root"


def test_match_is_on_exact_case() -> None:
    assert match("GET", "/V1/EVENTS") is None


def test_ties_are_found() -> None:
    routes = [r("a", {"GET"}, "/v1/{x}"), r("b", {"GET", "POST"}, "/v1/{y}"), r("c", {"PUT"}, "/v1/{z}")]
    assert find_ties(routes) == [(0, 1, "GET")]
    assert find_ties([r("a", {"GET"}, "/v1/a"), r("b", {"GET"}, "/v1/{x}")]) == []


def test_template_errors() -> None:
    assert parse_template("v1")[1]
    assert parse_template("/v1/{rest:path}/x")[1]
    assert parse_template("/v1/../x")[1]
    assert parse_template("/v1/{bad")[1]
    assert parse_template("/v1/{id}")[1] is None
