"""Revocation events on the wire: one JSON object per event, every id one string whatever it contains."""

from __future__ import annotations

import json

import pytest

from gateway import events
from gateway.events import (
    ApplicationChanged,
    GrantRevoked,
    TokenRevoked,
    UserApplicationRevoked,
    UserRevoked,
)

ALL = [
    TokenRevoked("abc"),
    GrantRevoked("g 1"),
    ApplicationChanged("c1"),
    UserApplicationRevoked("Ada Lovelace", "client 7"),
    UserApplicationRevoked("a|b", "c"),
    UserRevoked(' spaced "quoted" \\ user '),
]


@pytest.mark.parametrize("event", ALL)
def test_round_trip(event: events.Revocation) -> None:
    wire = events.encode(event, 1700000000.5)
    assert events.decode(wire) == (event, 1700000000.5)
    assert json.loads(wire)["kind"] == event.kind


@pytest.mark.parametrize(
    "message",
    [
        "1700000000.0 u u9",  # the old space-separated form names nothing now
        "[]",
        '{"kind":"user"}',
        '{"kind":"user","user_id":1}',
        '{"kind":"user","user_id":"a","client_id":"b"}',
        '{"kind":"nope","user_id":"a"}',
        b"\xff",
    ],
)
def test_malformed_messages_are_refused(message: str | bytes) -> None:
    with pytest.raises(events.MalformedEvent):
        events.decode(message)


def test_a_message_without_a_time_still_names_its_event() -> None:
    assert events.decode('{"kind":"user","user_id":"u"}') == (UserRevoked("u"), None)
