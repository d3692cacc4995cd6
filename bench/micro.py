"""`python -m bench.micro`: the warm path's own pieces, timed alone (microseconds per call, best of `--repeat`).

A whole-server A/B moves by several percent between runs; a change worth 1-3 us per request needs its piece timed
alone. Each piece is the code a warm proxied GET runs, fed what wrk sends and what the bench upstreams answer.
`--tree PATH` times another checkout's gateway/ (e.g. one exported with `git archive`), so one command gives
both sides of an A/B; pieces whose API changed between the two are adapted here.

    .venv/bin/python -m bench.micro [--tree PATH] [--number 20000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
import timeit
from collections.abc import Callable
from typing import Any


def pieces() -> dict[str, Callable[[], object]]:
    from aiohttp import web
    from multidict import CIMultiDict, CIMultiDictProxy

    from gateway.models import AccessTokenRecord, AppState, Grant, Principal
    from gateway.proxy import mutate
    from gateway.proxy.h1 import ResponseReader
    from gateway.proxy.upstream import UpstreamPool
    from gateway.security import Hasher, TokenKind, mint, well_formed
    from gateway.validation import TokenValidator

    # What bench/floor.py `app` (aiohttp) answers: head and the 213-byte body in one read.
    body = b'{"data": [' + b"x" * 190 + b"]}" + b" " * 11
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 213\r\n"
        b"Date: Tue, 01 Dec 2026 00:00:00 GMT\r\nServer: Python/3.11 aiohttp/3.14.5\r\n\r\n" + body[:213]
    )
    reader = ResponseReader("GET")
    response_headers: Any = mutate.response_headers  # its arguments changed in a216fb1
    new_response_api = len(inspect.signature(response_headers).parameters) == 2

    def relay() -> object:
        reader.reset("GET").feed(response)
        head = reader.head
        assert head is not None and reader.complete
        if new_response_api:
            headers: Any = response_headers(head.fields, head.connection)
        else:
            headers = response_headers(head.headers)
        return web.Response(status=head.status, reason=head.reason, headers=headers, body=reader.take_body())

    inbound = CIMultiDictProxy(
        CIMultiDict({"Host": "127.0.0.1:8080", "Authorization": "Bearer " + mint(TokenKind.ACCESS)})
    )
    policy = mutate.HeaderPolicy.build(None)
    principal = Principal("1001", "c" * 22, "g" * 22, frozenset({"events:read", "contacts:read"}), 0, 2**40)
    pool = UpstreamPool("http://127.0.0.1:9000", 1.0, 10.0)

    # Since 42aceb7 the Connection names come from check_inbound, which the handler calls first anyway.
    upstream_headers: Any = mutate.upstream_headers
    takes_named = "named_in_connection" in inspect.signature(upstream_headers).parameters
    named = {"named_in_connection": mutate.check_inbound(inbound)} if takes_named else {}

    def request_head() -> object:
        headers = upstream_headers(
            inbound,
            **named,
            policy=policy,
            principal=principal,
            drop_authorization=True,
            request_id="0123456789abcdef0000000000000001",
            peer="127.0.0.1",
            scheme="http",
            host="127.0.0.1:8080",
            trusted_peer=False,
        )
        return pool._head("GET", "/v1/events", headers, "")

    hasher = Hasher(b"k" * 32)
    token = mint(TokenKind.ACCESS)
    record = AccessTokenRecord(
        user_id="1001",
        client_id="c" * 22,
        grant_id="g" * 22,
        scopes=frozenset({"events:read"}),
        issued_at=0,
        expires_at=2**40,
    )
    grant = Grant("g" * 22, "c" * 22, "1001", frozenset({"events:read"}), 0, 0, 0, 0)
    app = AppState(frozenset({"events:read"}), 0)

    class Reader:
        async def get_access_token(self, _: str) -> AccessTokenRecord:
            return record

        async def validation_facts(self, *_: str) -> tuple[Grant, AppState, int, int]:
            return grant, app, 0, 0

    validator = TokenValidator(Reader(), hasher)  # type: ignore[arg-type]
    validator.subscribed = True

    def run(coro: Any) -> object:
        try:
            coro.send(None)
        except StopIteration as done:
            return done.value
        raise RuntimeError("the warm path awaited")

    asyncio.run(validator.validate(token))  # warm the cache (a miss needs a loop; hits never await)
    return {
        "relay a response (reader + headers + web.Response)": relay,
        "request head (upstream_headers + head bytes)": request_head,
        "validate, warm cache": lambda: run(validator.validate(token)),
        "well_formed (checksum)": lambda: well_formed(token, TokenKind.ACCESS),
        "Hasher.hash": lambda: hasher.hash(token),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.micro", description=__doc__)
    p.add_argument("--tree", help="a checkout whose gateway/ is timed instead of this one's")
    p.add_argument("--number", type=int, default=20000)
    p.add_argument("--repeat", type=int, default=7)
    a = p.parse_args(argv)
    if a.tree:
        sys.path.insert(0, a.tree)
    for name, fn in pieces().items():
        best = min(timeit.repeat(fn, number=a.number, repeat=a.repeat)) / a.number
        print(f"| {name} | {best * 1e6:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
