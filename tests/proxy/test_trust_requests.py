"""Issue 8, the request side: a real `scopegate serve` in front of the misbehaving upstream (its request log is what
the upstream really read off the wire).

- Compressed request bodies reach the upstream byte for byte with their Content-Encoding, whatever the framing, and
  nothing inside a body ever becomes a request at the upstream (not even against an upstream that answers before it
  has read the body).
- A `Connection` header naming an end-to-end header is a 400; so is a Host that is not host[:port].
- The gateway's own cookies, the SSO login header and the URL/method-override and client-address headers never reach
  the upstream.
- `Expect: 100-continue` is answered only once the request is authorized.
- Connections that never finish their head, or sit idle after a response, are closed at the deadline
  (`client_timeouts.idle`) while other clients are served.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import itertools
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import GatewayProcess, write_config
from tests.e2e.tokens import mint_token
from tests.proxy.misbehaving_upstream import (
    Client,
    Response,
    Seen,
    UpstreamProcess,
    ids_in,
    read_response,
    request_bytes,
)

TIMEOUT = 5.0
ATTACKER, VICTIM, READER = "2002", "3003", "1001"

SMUGGLED = (
    b"GET /v1/admin/users HTTP/1.1\r\nHost: x\r\nX-Auth-User-Id: 1001\r\nX-Auth-Scopes: admin:all\r\n"
    b"X-Test-Id: smuggled\r\n\r\n"
)
# Plain texts of the gzip bodies: a complete request (decompresses to fewer bytes than it is compressed: 110 < 113),
# a tiny body (2 < 22), incompressible random bytes (4096 < 4119) and fifty pipelined requests (5500 > 150).
PLAINTEXTS = {
    "request": SMUGGLED,
    "shrinking": b"hi",
    "incompressible": random.Random(8).randbytes(4096),
    "expanding": SMUGGLED * 50,
}
BODIES = {kind: gzip.compress(plain, mtime=0) for kind, plain in PLAINTEXTS.items()}


@dataclass
class Rig:
    upstream: UpstreamProcess
    gateway: GatewayProcess
    tokens: dict[str, str]  # user id -> bearer token (READER holds only events:read)
    param: dict[str, Any]


@pytest.fixture
def rig(request: pytest.FixtureRequest, redis_url: str, tmp_path: Path) -> Iterator[Rig]:
    """One misbehaving upstream and one gateway; request.param: {"mode", "env", "config"} (all optional)."""
    param: dict[str, Any] = getattr(request, "param", None) or {}
    upstream = UpstreamProcess(param.get("mode", "normal"), tmp_path)
    try:
        overrides = {"upstream_timeouts": {"connect": 2, "read": 2}, **param.get("config", {})}
        gateway = GatewayProcess(
            write_config(tmp_path, upstream=upstream.url, redis_url=redis_url, **overrides), env=param.get("env")
        )
    except BaseException:
        upstream.stop()
        raise
    try:
        tokens = {
            ATTACKER: mint_token(redis_url, ["events:read", "events:write"], user_id=ATTACKER),
            VICTIM: mint_token(redis_url, ["events:read", "events:write"], user_id=VICTIM),
            READER: mint_token(redis_url, ["events:read"], user_id=READER),
        }
        yield Rig(upstream, gateway, tokens, param)
    finally:
        upstream.stop()
        gateway.stop()


def tid(label: str) -> str:
    return f"{label}-{secrets.token_hex(4)}"


def auth(rig: Rig, user: str) -> tuple[str, str]:
    return ("Authorization", f"Bearer {rig.tokens[user]}")


def chunked(body: bytes) -> bytes:
    """Three uneven chunks (one of a single byte when the body allows), a chunk extension, the last chunk."""
    cuts = sorted({0, min(1, len(body)), len(body) // 3, len(body)})
    parts = [body[a:b] for a, b in itertools.pairwise(cuts) if b > a]
    out = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts)
    return out + b"0\r\n\r\n"


def post(target: str, headers: list[tuple[str, str]], body: bytes, framing: str) -> bytes:
    if framing == "length":
        return request_bytes("POST", target, headers, body)
    head = request_bytes("POST", target, [*headers, ("Transfer-Encoding", "chunked")])
    return head + chunked(body)


async def send(rig: Rig, raw: bytes, method: str = "GET") -> Response | BaseException:
    client = Client(rig.gateway.port, TIMEOUT)
    try:
        return await client.request(raw, method)
    except Exception as exc:
        return exc
    finally:
        await client.close()


def by_id(seen: list[Seen]) -> dict[str, list[Seen]]:
    out: dict[str, list[Seen]] = {}
    for s in seen:
        if not s.error:
            out.setdefault(s.test_id or "<none>", []).append(s)
    return out


def at_upstream(rig: Rig, test_id: str) -> Seen:
    seen = by_id(rig.upstream.settled(quiet=0.2, limit=3.0)).get(test_id, [])
    assert len(seen) == 1, f"the upstream read {len(seen)} requests with id {test_id}"
    return seen[0]


def status_of(result: Response | BaseException) -> int | str:
    return result.status if isinstance(result, Response) else f"{type(result).__name__}: {result}"


# --- compressed request bodies -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rig", [{"mode": "normal"}, {"mode": "early_answer"}], indirect=True, ids=["normal", "early_answer"]
)
@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_compressed_bodies_reach_the_upstream_byte_for_byte_and_never_become_requests(
    rig: Rig, framing: str
) -> None:
    """Three attacker connections, each sending every gzip body, then the smuggled request as a plain body, then a
    GET, while three victims send GETs on their own connections. At the upstream: exactly one request per client
    request, each with the method, path, identity and exact body bytes its client sent."""
    sent: dict[str, tuple[str, str, str, bytes | None, str | None]] = {}  # id -> method, path, user, body, encoding
    results: dict[str, Response | BaseException] = {}

    async def attacker(c: int) -> None:
        client = Client(rig.gateway.port, TIMEOUT)
        try:
            for kind, body in BODIES.items():
                steps: list[tuple[str, bytes, str, bytes | None, str | None]] = []
                t = tid(f"gz-{kind}-c{c}")
                headers = [
                    auth(rig, ATTACKER),
                    ("X-Test-Id", t),
                    ("Content-Encoding", "gzip"),
                    ("Content-Type", "application/octet-stream"),
                ]
                steps.append((t, post("/v1/events", headers, body, framing), "POST", body, "gzip"))
                t = tid(f"plain-c{c}")
                headers = [auth(rig, ATTACKER), ("X-Test-Id", t), ("Content-Type", "text/plain")]
                steps.append((t, post("/v1/events", headers, SMUGGLED, framing), "POST", SMUGGLED, None))
                t = tid(f"get-c{c}")
                steps.append(
                    (t, request_bytes("GET", "/v1/events", [auth(rig, ATTACKER), ("X-Test-Id", t)]), "GET", None, None)
                )
                for t, raw, method, sent_body, encoding in steps:
                    sent[t] = (method, "/v1/events", ATTACKER, sent_body, encoding)
                    try:
                        results[t] = await client.request(raw, method)
                    except Exception as exc:
                        results[t] = exc
        finally:
            await client.close()

    async def victim(c: int) -> None:
        client = Client(rig.gateway.port, TIMEOUT)
        try:
            for i in range(12):
                t = tid(f"victim-c{c}-r{i}")
                sent[t] = ("GET", "/v1/events", VICTIM, None, None)
                try:
                    results[t] = await client.request(
                        request_bytes("GET", "/v1/events", [auth(rig, VICTIM), ("X-Test-Id", t)]), "GET"
                    )
                except Exception as exc:
                    results[t] = exc
                await asyncio.sleep(0.01)
        finally:
            await client.close()

    tasks = [asyncio.create_task(attacker(c)) for c in range(3)] + [asyncio.create_task(victim(c)) for c in range(3)]
    done, pending = await asyncio.wait(tasks, timeout=20)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        task.result()

    problems: list[str] = []
    if pending:
        problems.append(f"{len(pending)} client(s) had not finished after 20 s")
    for t, result in results.items():
        if not isinstance(result, Response) or result.status != 200:
            problems.append(f"{sent[t][0]} {t}: {status_of(result)}")
        elif ids_in(result.body) | {result.header("X-Test-Id")} != {t}:
            problems.append(f"{t} got {result.body[:80]!r} (X-Test-Id {result.header('X-Test-Id')})")
    seen = rig.upstream.settled(quiet=0.3, limit=5.0)
    garbage = [s.raw for s in seen if s.error]
    if garbage:
        problems.append(f"the upstream read bytes that were not a request: {garbage[:3]}")
    grouped = by_id(seen)
    for t, entries in grouped.items():
        if t not in sent:
            e = entries[0]
            problems.append(
                f"the upstream read a request nobody sent: {e.method} {e.target} id={t} "
                f"X-Auth-User-Id={e.all('X-Auth-User-Id')} X-Auth-Scopes={e.all('X-Auth-Scopes')}"
            )
    for s in seen:
        if s.error:
            continue
        if "admin" in s.target or any("admin:all" in v for v in s.all("X-Auth-Scopes")):
            problems.append(f"forged request at the upstream: {s.method} {s.target} {s.headers}")
    for t, (method, path, user, body, encoding) in sent.items():
        entries = grouped.get(t, [])
        if len(entries) != 1:
            problems.append(f"{method} {t}: the upstream read it {len(entries)} times")
            continue
        e = entries[0]
        if (e.method, e.target) != (method, path):
            problems.append(f"{t}: sent {method} {path}, the upstream read {e.method} {e.target}")
        if e.all("X-Auth-User-Id") != [user]:
            problems.append(f"{t}: X-Auth-User-Id {e.all('X-Auth-User-Id')} at the upstream, the caller is {user}")
        if body is not None and e.body != body:
            problems.append(
                f"{t}: the upstream read {len(e.body)} body bytes {e.body[:40]!r}..., the client sent "
                f"{len(body)} {body[:40]!r}..."
            )
        if encoding is not None and e.all("Content-Encoding") != [encoding]:
            problems.append(f"{t}: Content-Encoding at the upstream {e.all('Content-Encoding')}, sent {encoding}")
        declared = e.header("Content-Length")
        if declared is not None and int(declared) != len(e.body):
            problems.append(f"{t}: Content-Length {declared} at the upstream for {len(e.body)} bytes")
    assert not problems, f"{len(problems)} problems:\n- " + "\n- ".join(problems[:25])


# --- refused requests ----------------------------------------------------------------------------------------------


async def test_connection_may_not_name_end_to_end_headers(rig: Rig) -> None:
    problems: list[str] = []
    refused: list[str] = []
    for value in [
        "Content-Encoding",
        "Content-Length",
        "Transfer-Encoding",
        "Host",
        "Authorization",
        "X-Auth-User-Id",
        "X-Auth-Client-Id",
        "X-Auth-Scopes",
        "keep-alive, content-encoding",
        "close, X-AUTH-USER-ID",
    ]:
        t = tid("conn")
        refused.append(t)
        headers = [
            auth(rig, ATTACKER),
            ("X-Test-Id", t),
            ("Connection", value),
            ("Content-Encoding", "gzip"),
            ("X-Auth-User-Id", "1001"),
            ("X-Auth-Client-Id", "forged"),
            ("X-Auth-Scopes", "admin:all"),
        ]
        framing = "chunked" if "transfer-encoding" in value.lower() else "length"
        result = await send(rig, post("/v1/events", headers, BODIES["request"], framing), "POST")
        if status_of(result) != 400:
            problems.append(f"Connection: {value} -> {status_of(result)}, expected 400")
    # A Connection header naming hop-by-hop fields is fine, and the fields it names are not forwarded.
    ok = tid("conn-ok")
    result = await send(
        rig,
        request_bytes(
            "GET",
            "/v1/events",
            [auth(rig, ATTACKER), ("X-Test-Id", ok), ("Connection", "keep-alive, X-Hop"), ("X-Hop", "1")],
        ),
    )
    if status_of(result) != 200:
        problems.append(f"Connection: keep-alive, X-Hop -> {status_of(result)}, expected 200")
    seen = by_id(rig.upstream.settled(quiet=0.3, limit=3.0))
    reached = [t for t in refused if t in seen]
    if reached:
        problems.append(f"refused requests reached the upstream: {reached}")
    if ok in seen and seen[ok][0].all("X-Hop"):
        problems.append("the field named in Connection reached the upstream")
    assert not problems, "\n".join(problems)


INVALID_HOSTS = [
    "a b@evil:1",
    "evil:99999",
    "ex ample",
    "evil:abc",
    "user@evil",
    "evil/path",
    "evil;x=1",
    "evil,other",
    "evil:80:80",
    "[::1",
]
VALID_HOSTS = ["api.example.com", "api.example.com:8443", "localhost", "127.0.0.1:9000", "[::1]:8080"]


async def test_host_must_be_host_and_port(rig: Rig) -> None:
    problems: list[str] = []
    refused: list[str] = []
    for host in INVALID_HOSTS:
        t = tid("badhost")
        refused.append(t)
        raw = request_bytes("GET", "/v1/events", [auth(rig, ATTACKER), ("X-Test-Id", t)], host=host)
        result = await send(rig, raw)
        if status_of(result) != 400:
            problems.append(f"Host: {host} -> {status_of(result)}, expected 400")
    accepted: dict[str, str] = {}
    for host in VALID_HOSTS:
        t = tid("host")
        accepted[t] = host
        raw = request_bytes("GET", "/v1/events", [auth(rig, ATTACKER), ("X-Test-Id", t)], host=host)
        result = await send(rig, raw)
        if status_of(result) != 200:
            problems.append(f"Host: {host} -> {status_of(result)}, expected 200")
    seen = by_id(rig.upstream.settled(quiet=0.3, limit=3.0))
    reached = [t for t in refused if t in seen]
    if reached:
        problems.append(f"requests with an invalid Host reached the upstream: {reached}")
    for t, host in accepted.items():
        if t in seen and seen[t][0].all("X-Forwarded-Host") != [host]:
            problems.append(f"Host: {host} -> X-Forwarded-Host {seen[t][0].all('X-Forwarded-Host')}")
    assert not problems, "\n".join(problems)


# --- what the upstream must never see ------------------------------------------------------------------------------

GATEWAY_COOKIES = ("sg_session", "__Host-sg_session", "sg_login", "__Host-sg_login")


def cookie_pairs(entry: Seen) -> list[tuple[str, str]]:
    pairs = []
    for value in entry.all("Cookie"):
        for part in value.split(";"):
            name, _, val = part.strip().partition("=")
            if name:
                pairs.append((name, val))
    return pairs


@pytest.mark.parametrize(
    "rig", [{}, {"env": {"SCOPEGATE_PUBLIC_URL": "https://gw.example"}}], indirect=True, ids=["http", "https"]
)
async def test_gateway_cookies_never_reach_the_upstream(rig: Rig) -> None:
    """Session, login-nonce (and the __Host- variants used under https) are removed; other cookies pass as sent."""
    cases = {
        tid("mixed"): (
            [
                (
                    "Cookie",
                    "theme=dark; sg_session=S1; other=1; __Host-sg_session=S2; sg_login=N1; __Host-sg_login=N2; last=z",
                )
            ],
            [("theme", "dark"), ("other", "1"), ("last", "z")],
        ),
        tid("only-ours"): ([("Cookie", "sg_session=S1; __Host-sg_session=S2; sg_login=N1")], []),
        tid("two-lines"): ([("Cookie", "sg_session=S1"), ("Cookie", "a=b; __Host-sg_session=S2")], [("a", "b")]),
        tid("none-ours"): (
            [("Cookie", "sg_sessionx=1; my_sg_session=2")],
            [("sg_sessionx", "1"), ("my_sg_session", "2")],
        ),
    }
    problems = []
    for t, (cookie_headers, _) in cases.items():
        raw = request_bytes("GET", "/v1/events", [auth(rig, ATTACKER), ("X-Test-Id", t), *cookie_headers])
        result = await send(rig, raw)
        if status_of(result) != 200:
            problems.append(f"{t}: {status_of(result)}")
    seen = by_id(rig.upstream.settled(quiet=0.3, limit=3.0))
    for t, (_, expected) in cases.items():
        if t not in seen:
            problems.append(f"{t}: never reached the upstream")
            continue
        pairs = cookie_pairs(seen[t][0])
        leaked = [n for n, _ in pairs if n in GATEWAY_COOKIES]
        if leaked:
            problems.append(f"{t}: the gateway's cookies reached the upstream: {leaked}")
        if pairs != expected:
            problems.append(f"{t}: the upstream read cookies {pairs}, expected {expected}")
    assert not problems, "\n".join(problems)


SSO = {"mode": "trusted_header", "trusted_proxies": ["127.0.0.1/32"]}


@pytest.mark.parametrize(
    "rig",
    [{"config": {"login": SSO}}, {"config": {"login": {**SSO, "header": "X-SSO-User"}}}],
    indirect=True,
    ids=["default-header", "custom-header"],
)
async def test_the_sso_login_header_never_reaches_the_upstream(rig: Rig) -> None:
    header = rig.param["config"]["login"].get("header", "X-Authenticated-User")
    t = tid("sso")
    raw = request_bytes(
        "GET", "/v1/events", [auth(rig, ATTACKER), ("X-Test-Id", t), (header, "1001"), (header.lower(), "1001")]
    )
    result = await send(rig, raw)
    assert status_of(result) == 200
    entry = at_upstream(rig, t)
    assert entry.all(header) == [], f"{header} reached the upstream"


OVERRIDES = [
    "X-Original-URL",
    "X-Rewrite-URL",
    "X-HTTP-Method-Override",
    "X-HTTP-Method",
    "X-Method-Override",
    "X-Client-IP",
    "True-Client-IP",
]


async def test_override_and_client_address_headers_never_reach_the_upstream(rig: Rig) -> None:
    t = tid("override")
    headers = [auth(rig, ATTACKER), ("X-Test-Id", t), ("X-Custom", "kept")]
    for name in OVERRIDES:
        value = "DELETE" if "Method" in name else ("/v1/admin/users" if "URL" in name else "10.9.8.7")
        headers += [(name, value), (name.lower(), value)]
    result = await send(rig, request_bytes("GET", "/v1/events", headers))
    assert status_of(result) == 200
    entry = at_upstream(rig, t)
    leaked = [name for name in OVERRIDES if entry.all(name)]
    assert leaked == [], f"reached the upstream: {leaked}"
    assert entry.all("X-Custom") == ["kept"]
    assert (entry.method, entry.target) == ("GET", "/v1/events")


# --- Expect: 100-continue ------------------------------------------------------------------------------------------


async def _expect(
    rig: Rig, headers: list[tuple[str, str]], body: bytes
) -> tuple[bytes, asyncio.StreamReader, asyncio.StreamWriter]:
    """Send a head with Expect: 100-continue and no body; return the first response head the gateway sends."""
    reader, writer = await asyncio.open_connection("127.0.0.1", rig.gateway.port)
    head = request_bytes(
        "POST", "/v1/events", [*headers, ("Expect", "100-continue"), ("Content-Length", str(len(body)))]
    )
    writer.write(head)
    await writer.drain()
    first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    return first, reader, writer


@pytest.mark.parametrize("who, expected", [("nobody", 401), ("reader", 403)])
async def test_expect_100_continue_is_not_answered_before_authorization(rig: Rig, who: str, expected: int) -> None:
    t = tid(f"expect-{who}")
    headers = [("X-Test-Id", t), ("Content-Type", "text/plain")]
    if who == "reader":
        headers.append(auth(rig, READER))  # events:read only; POST /v1/events needs events:write
    first, _, writer = await _expect(rig, headers, b"0123456789")
    try:
        status_line = first.split(b"\r\n", 1)[0]
        assert not status_line.startswith(b"HTTP/1.1 100"), "100 Continue before the request was authorized"
        assert status_line.startswith(b"HTTP/1.1 %d" % expected), status_line
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    assert t not in by_id(rig.upstream.settled(quiet=0.3, limit=2.0))


async def test_expect_100_continue_on_an_authorized_request(rig: Rig) -> None:
    t = tid("expect-ok")
    body = b"0123456789"
    first, reader, writer = await _expect(rig, [auth(rig, ATTACKER), ("X-Test-Id", t)], body)
    try:
        assert first.split(b"\r\n", 1)[0].startswith(b"HTTP/1.1 100"), first
        writer.write(body)
        await writer.drain()
        resp = await asyncio.wait_for(read_response(reader, "POST"), TIMEOUT)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    assert resp.status == 200 and resp.body == b"id=%s;" % t.encode(), (resp.status, resp.body)
    entry = at_upstream(rig, t)
    assert entry.all("Expect") == []
    assert entry.body == body


# --- deadlines on the public listener ------------------------------------------------------------------------------

IDLE = 2


@dataclass
class Slow:
    closed_after: float | None = None  # seconds from opening until the gateway closed it
    sent: int = 0


async def _slowloris(port: int, hard_limit: float) -> Slow:
    """Open a connection and send a request head one byte every 0.5 s (it would take ~25 s to finish)."""
    head = b"GET /v1/events HTTP/1.1\r\nHost: gw\r\nX-Slow: " + b"s" * 20 + b"\r\n\r\n"
    out = Slow()
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() - started < hard_limit and out.sent < len(head) - 4:
            try:
                writer.write(head[out.sent : out.sent + 1])
                await writer.drain()
                out.sent += 1
                data = await asyncio.wait_for(reader.read(4096), 0.5)
            except TimeoutError:
                continue
            except (ConnectionError, OSError):
                out.closed_after = time.monotonic() - started
                return out
            if not data:
                out.closed_after = time.monotonic() - started
                return out
            # The gateway may answer (408) before closing: read on until it closes.
            with contextlib.suppress(TimeoutError, ConnectionError, OSError):
                while await asyncio.wait_for(reader.read(4096), max(0.01, hard_limit - (time.monotonic() - started))):
                    pass
                out.closed_after = time.monotonic() - started
            return out
        return out
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


@pytest.mark.parametrize("rig", [{"config": {"client_timeouts": {"idle": IDLE}}}], indirect=True, ids=["idle2"])
async def test_slowloris_connections_are_closed_while_others_are_served(rig: Rig) -> None:
    bound = IDLE + 3  # generous: proves the closing happens, not how fast
    slow_tasks = [asyncio.create_task(_slowloris(rig.gateway.port, hard_limit=bound + 5)) for _ in range(100)]
    served: list[int | str] = []
    while not all(task.done() for task in slow_tasks) and len(served) < 200:
        t = tid("meanwhile")
        result = await send(rig, request_bytes("GET", "/v1/events", [auth(rig, ATTACKER), ("X-Test-Id", t)]))
        served.append(status_of(result))
        if isinstance(result, Response) and ids_in(result.body) != {t}:
            served.append(f"wrong body {result.body[:60]!r}")
        health = await send(rig, request_bytes("GET", "/healthz", []))
        served.append(status_of(health))
        await asyncio.sleep(0.2)
    slow = await asyncio.gather(*slow_tasks)
    still_open = sum(1 for s in slow if s.closed_after is None)
    late = sorted(s.closed_after for s in slow if s.closed_after is not None and s.closed_after > bound)
    assert still_open == 0, f"{still_open} of 100 slow connections were still open after {bound + 5}s"
    assert not late, f"slow connections closed only after {late[:5]}s (deadline {IDLE}s)"
    assert served and all(s == 200 for s in served), f"other clients meanwhile: {served}"
    after = await send(rig, request_bytes("GET", "/v1/events", [auth(rig, ATTACKER), ("X-Test-Id", tid("after"))]))
    assert status_of(after) == 200


@pytest.mark.parametrize("rig", [{"config": {"client_timeouts": {"idle": IDLE}}}], indirect=True, ids=["idle2"])
async def test_idle_connections_are_closed_at_the_deadline(rig: Rig) -> None:
    bound = IDLE + 3

    async def closed_within(reader: asyncio.StreamReader) -> float | None:
        started = time.monotonic()
        try:
            data = await asyncio.wait_for(reader.read(65536), bound + 3)
            while data:  # a 408 before closing is fine
                data = await asyncio.wait_for(reader.read(65536), bound + 3)
        except TimeoutError:
            return None
        except (ConnectionError, OSError):
            pass
        return time.monotonic() - started

    # 1. A connection that never sends a byte.
    reader, writer = await asyncio.open_connection("127.0.0.1", rig.gateway.port)
    try:
        silent = await closed_within(reader)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    # 2. A keep-alive connection after its response.
    reader, writer = await asyncio.open_connection("127.0.0.1", rig.gateway.port)
    try:
        t = tid("idle")
        writer.write(request_bytes("GET", "/v1/events", [auth(rig, ATTACKER), ("X-Test-Id", t)]))
        await writer.drain()
        resp = await asyncio.wait_for(read_response(reader, "GET"), TIMEOUT)
        assert resp.status == 200 and resp.header("Connection") != "close"
        after_response = await closed_within(reader)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    assert silent is not None and silent <= bound, f"a silent connection was closed after {silent}s"
    assert after_response is not None and after_response <= bound, (
        f"an idle keep-alive connection was closed after {after_response}s"
    )
