"""Canonicalization: what is refused, and what is normalized before matching and forwarding."""

from __future__ import annotations

import pytest

from gateway.errors import BadPath
from gateway.proxy.canonical import canonicalize


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("/v1/a%2fb", "encoded_slash"),
        ("/v1/a%2Fb", "encoded_slash"),
        ("/v1/a%5cb", "encoded_slash"),
        ("/v1\\events", "backslash"),
        ("/v1/./events", "dot_segment"),
        ("/v1/../admin", "dot_segment"),
        ("/v1/%2e%2e/admin", "dot_segment"),
        ("/v1/%2E/events", "dot_segment"),
        ("/v1/.%2e/admin", "dot_segment"),
        ("/v1/events/..", "dot_segment"),
        ("/v1//events", "empty_segment"),
        ("/v1/events%00", "control_char"),
        ("/v1/events%0d%0aX: y", "control_char"),
        ("/v1/events%0A", "control_char"),
        ("/v1/events\x00", "control_char"),
        ("/v1/events;jsessionid=1", "path_params"),
        ("/v1/events%3bx", "path_params"),
        ("/v1/events#frag", "fragment"),
        ("/v1/a%252fb", "double_encoding"),
        ("/v1/a%zz", "bad_escape"),
        ("/v1/a%2", "bad_escape"),
        ("http://evil/v1/events", "not_origin_form"),
        ("*", "not_origin_form"),
        ("/v1/events?x=1 2", "bad_query"),
        ("/v1/events?x=\r\n", "bad_query"),
        ("/v1/événements", "bad_char"),
    ],
)
def test_ambiguous_targets_are_refused(raw: str, reason: str) -> None:
    with pytest.raises(BadPath) as info:
        canonicalize(raw)
    assert info.value.reason == reason
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("raw", "path", "forward"),
    [
        ("/v1/events", "/v1/events", "/v1/events"),
        ("/v1/%65vents", "/v1/events", "/v1/events"),  # unreserved escapes decoded: cannot dodge a literal rule
        ("/v1/a%7eb", "/v1/a~b", "/v1/a~b"),
        ("/v1/a%20b", "/v1/a%20b", "/v1/a%20b"),  # reserved escapes kept, hex upper-cased
        ("/v1/a%3fb", "/v1/a%3Fb", "/v1/a%3Fb"),
        ("/v1/events?id=1&x=%2F..", "/v1/events", "/v1/events?id=1&x=%2F.."),  # the query is not matched
        ("/v1/events?", "/v1/events", "/v1/events?"),
        ("/v1/events/", "/v1/events/", "/v1/events/"),
        ("/", "/", "/"),
        ("/v1/file.json", "/v1/file.json", "/v1/file.json"),
    ],
)
def test_canonical_form_is_what_is_matched_and_forwarded(raw: str, path: str, forward: str) -> None:
    target = canonicalize(raw)
    assert target.path == path
    assert target.forward == forward
