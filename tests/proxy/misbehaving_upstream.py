"""A misbehaving HTTP/1.1 upstream on raw asyncio streams, and the raw client side the trust-boundary tests use.

Run as its own process (so nothing it does can share a loop with the gateway):

    python -m tests.proxy.misbehaving_upstream --mode MODE --log FILE [--port 0]

It prints `LISTENING <port>` once bound. Every request it reads is appended to FILE as one JSON line (method, target,
headers, the exact body bytes after de-chunking, base64) before it is answered, except in `early_answer` mode, which
answers as soon as the head is read and logs once the body has been read. A request line or header line it cannot
parse is logged as `{"error": ...}` and skipped line by line, so whatever bytes follow on that connection are read as
the next request: a desynchronised byte stream shows up in the log as requests nobody sent.

Each answer echoes the request's `X-Test-Id` (header `X-Test-Id`, body `id=<id>;`). The mode is the process's
`--mode`, or the request's `X-Upstream-Mode` header when present (so a test can send one `normal` request through an
upstream that misbehaves otherwise). Any bytes the upstream makes up itself name the id `stray`.

The second half of this module is the client side: a strict, bounded reader of the gateway's responses.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODES = (
    "normal",
    "extra_immediate",  # a second, complete response in the same write as the first
    "extra_delayed",  # junk that is not HTTP ~20 ms after a correct response
    "late_stray",  # a complete stray response 50 ms after a correct one (arrives while the connection is idle)
    "head_with_body",  # HEAD answered with Content-Length: N and N bytes (a complete stray response)
    "status_204_body",  # 204 with Content-Length: N and N body bytes (a complete stray response)
    "status_304_body",  # 304 with Content-Length: N and N body bytes (a complete stray response)
    "short_length",  # Content-Length 10 more than sent; 200 ms later a complete stray response follows
    "long_length",  # Content-Length shorter than the body; the rest (naming `stray`) trails
    "early_answer",  # answers before reading the request body, then reads the body and the next request
    "upgrade_101",  # 101 Switching Protocols to a request that never asked, then bytes
    "nonascii_digit",  # Content-Length: ٣ (ARABIC-INDIC DIGIT THREE, UTF-8)
    "superscript_digit",  # Content-Length: ² (str.isdigit() is true, int() raises)
    "huge_head_split",  # a ~100 KiB response head written 1 KiB at a time with small sleeps
    "endless_1xx",  # 103 Early Hints, forever (bounded by ENDLESS_FOR)
    "endless_trailers",  # a chunked body, then trailer fields forever (bounded by ENDLESS_FOR)
    "bad_header_name",  # a header name with a space in it
    "bad_header_name_at",  # a header name with `@` in it
    "bad_header_value",  # a header value with a control character in it
)

ENDLESS_FOR = 20.0  # seconds the endless modes keep writing if nobody closes the connection
STRAY_ID = "stray"
_LINE_LIMIT = 1024 * 1024
_REQUEST_LINE = re.compile(rb"([A-Z]{1,20}) (\S{1,8000}) HTTP/1\.([01])\r?\n")
_HEADER_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*\r?\n", re.S)


# --- the server ---------------------------------------------------------------------------------------------------


class BadInput(Exception):
    pass


@dataclass
class Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class Server:
    def __init__(self, mode: str, log_path: str) -> None:
        self.mode = mode
        self.log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.connections = 0

    def log(self, entry: dict[str, Any]) -> None:
        os.write(self.log_fd, (json.dumps(entry) + "\n").encode())

    def log_request(self, conn: int, req: Request) -> None:
        self.log(
            {
                "conn": conn,
                "method": req.method,
                "target": req.target,
                "headers": req.headers,
                "body_b64": base64.b64encode(req.body).decode(),
                "t": time.time(),
            }
        )

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = self.connections
        try:
            while True:
                try:
                    req = await self.read_head(conn, reader)
                except BadInput:
                    continue  # logged; read the next line as the start of a request
                if req is None:
                    break
                mode = req.header("X-Upstream-Mode") or self.mode
                if mode == "early_answer":
                    writer.write(answer(req))
                    await writer.drain()
                    req.body = await self.read_body(req, reader)
                    self.log_request(conn, req)
                    continue
                req.body = await self.read_body(req, reader)
                self.log_request(conn, req)
                if not await self.respond(mode, req, reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, BadInput, TimeoutError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def read_head(self, conn: int, reader: asyncio.StreamReader) -> Request | None:
        line = b"\r\n"
        while line in (b"\r\n", b"\n"):  # empty lines before a request line are skipped (RFC 9112 §2.2)
            line = await reader.readline()
            if not line:
                return None
        m = _REQUEST_LINE.fullmatch(line)
        if m is None:
            self.log({"conn": conn, "error": "bad request line", "line": line[:200].decode("latin-1")})
            raise BadInput
        headers: list[tuple[str, str]] = []
        while True:
            hl = await reader.readline()
            if not hl:
                return None
            if hl in (b"\r\n", b"\n"):
                break
            hm = _HEADER_LINE.fullmatch(hl)
            if hm is None:
                self.log({"conn": conn, "error": "bad header line", "line": hl[:200].decode("latin-1")})
                raise BadInput
            headers.append((hm.group(1).decode("latin-1"), hm.group(2).decode("latin-1")))
        return Request(m.group(1).decode(), m.group(2).decode("latin-1"), headers)

    async def read_body(self, req: Request, reader: asyncio.StreamReader) -> bytes:
        te = req.header("Transfer-Encoding")
        cl = req.header("Content-Length")
        if te is not None:
            if te.strip().lower() != "chunked" or cl is not None:
                self.log({"error": "bad framing", "te": te, "cl": cl})
                raise BadInput
            parts: list[bytes] = []
            while True:
                size_line = await reader.readline()
                size_text = size_line.split(b";", 1)[0].strip()
                if not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size_text):
                    self.log({"error": "bad chunk size", "line": size_line[:200].decode("latin-1")})
                    raise BadInput
                size = int(size_text, 16)
                if size == 0:
                    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass  # request trailers
                    return b"".join(parts)
                parts.append(await reader.readexactly(size))
                if await reader.readexactly(2) != b"\r\n":
                    self.log({"error": "bad chunk end"})
                    raise BadInput
        if cl is not None:
            if not re.fullmatch(r"[0-9]{1,12}", cl):
                self.log({"error": "bad content-length", "cl": cl})
                raise BadInput
            return await reader.readexactly(int(cl))
        return b""

    async def respond(
        self, mode: str, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request the way `mode` says; False: stop serving this connection."""
        tid = req.header("X-Test-Id") or "none"
        body = b"id=%s;" % tid.encode("latin-1")
        head_only = req.method == "HEAD"
        if mode == "extra_immediate":
            writer.write(answer(req) + stray_response())
        elif mode == "extra_delayed":
            writer.write(answer(req))
            await writer.drain()
            await asyncio.sleep(0.02)
            writer.write(b"\x00\x01\x02 not http at all id=%s; \xff\xfe\r\n\r\n" % STRAY_ID.encode())
        elif mode == "late_stray":
            writer.write(answer(req))
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(stray_response())
        elif mode == "head_with_body" and head_only:
            # The body a HEAD must not have is itself a complete response: a client that reads past the head
            # takes it for the next request's answer.
            writer.write(head(200, tid, len(stray_response())) + stray_response())
        elif mode in ("status_204_body", "status_304_body"):
            status = 204 if mode == "status_204_body" else 304
            writer.write(head(status, tid, len(stray_response())) + stray_response())
        elif mode == "short_length":
            writer.write(head(200, tid, len(body) + 10) + (b"" if head_only else body))
            await writer.drain()
            await asyncio.sleep(0.2)
            writer.write(stray_response())  # the declared-but-missing 10 bytes are taken from this one
        elif mode == "long_length":
            trail = b"TRAILING id=%s; TRAILING" % STRAY_ID.encode()
            writer.write(head(200, tid, len(body)) + (b"" if head_only else body + trail))
        elif mode == "upgrade_101":
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                b"X-Test-Id: %s\r\n\r\nid=%s;" % (tid.encode("latin-1"), STRAY_ID.encode())
            )
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reader.read(), ENDLESS_FOR)  # a tunnel now, as far as we are concerned
            return False
        elif mode in ("nonascii_digit", "superscript_digit"):
            digit = "٣" if mode == "nonascii_digit" else "²"
            body3 = body[:3] if mode == "nonascii_digit" else body[:2]
            writer.write(
                b"HTTP/1.1 200 OK\r\nX-Test-Id: %s\r\nContent-Length: %s\r\n\r\n%s%s"
                % (tid.encode("latin-1"), digit.encode("utf-8"), body3, body[len(body3) :])
            )
        elif mode == "huge_head_split":
            lines = b"".join(b"X-Fill-%03d: %s\r\n" % (i, b"f" * 190) for i in range(520))  # ~104 KiB
            data = (
                b"HTTP/1.1 200 OK\r\nX-Test-Id: %s\r\n" % tid.encode("latin-1")
                + lines
                + b"Content-Length: %d\r\n\r\n" % len(body)
                + (b"" if head_only else body)
            )
            for i in range(0, len(data), 1024):
                writer.write(data[i : i + 1024])
                await writer.drain()
                await asyncio.sleep(0.001)
        elif mode == "endless_1xx":
            hint = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n"
            await endless(writer, lambda _: hint * 20)
            return False
        elif mode == "endless_trailers":
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\nX-Test-Id: %s\r\n\r\n"
                b"%x\r\n%s\r\n0\r\n" % (tid.encode("latin-1"), len(body), body)
            )
            await endless(writer, lambda n: b"".join(b"X-T-%d: %s\r\n" % (n * 50 + i, b"t" * 40) for i in range(50)))
            return False
        elif mode == "bad_header_name":
            writer.write(head(200, tid, len(body), b"Bad Name: 1\r\n") + (b"" if head_only else body))
        elif mode == "bad_header_name_at":
            writer.write(head(200, tid, len(body), b"X@Bad: 1\r\n") + (b"" if head_only else body))
        elif mode == "bad_header_value":
            writer.write(head(200, tid, len(body), b"X-Bad: a\x01b\x7fc\r\n") + (b"" if head_only else body))
        else:  # normal, and early_answer for bodyless requests
            writer.write(answer(req))
        await writer.drain()
        return True


def head(status: int, tid: str, length: int, extra: bytes = b"") -> bytes:
    reason = {200: b"OK", 204: b"No Content", 304: b"Not Modified"}[status]
    return b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nX-Test-Id: %s\r\n%sContent-Length: %d\r\n\r\n" % (
        status,
        reason,
        tid.encode("latin-1"),
        extra,
        length,
    )


def answer(req: Request) -> bytes:
    """The correct answer: 200, the id in a header and in the body (no body for HEAD)."""
    tid = req.header("X-Test-Id") or "none"
    body = b"id=%s;" % tid.encode("latin-1")
    return head(200, tid, len(body)) + (b"" if req.method == "HEAD" else body)


def stray_response() -> bytes:
    body = b"id=%s;" % STRAY_ID.encode()
    return head(200, STRAY_ID, len(body)) + body


async def endless(writer: asyncio.StreamWriter, piece: Any) -> None:
    deadline = time.monotonic() + ENDLESS_FOR
    n = 0
    while time.monotonic() < deadline and not writer.is_closing():
        writer.write(piece(n))
        n += 1
        try:
            await asyncio.wait_for(writer.drain(), max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            return
        await asyncio.sleep(0.001)


async def serve(mode: str, port: int, log_path: str) -> None:
    server = Server(mode, log_path)
    srv = await asyncio.start_server(server.handle, "127.0.0.1", port, limit=_LINE_LIMIT)
    print(f"LISTENING {srv.sockets[0].getsockname()[1]}", flush=True)
    async with srv:
        await srv.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mode", choices=MODES, default="normal")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.mode, args.port, args.log))


# --- the process, seen from a test --------------------------------------------------------------------------------


@dataclass
class Seen:
    """One request as the upstream read it (or a line it could not parse: `error` set)."""

    conn: int
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    error: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def test_id(self) -> str | None:
        return self.header("X-Test-Id")


class UpstreamProcess:
    """`python -m tests.proxy.misbehaving_upstream` on a free loopback port, with its request log."""

    def __init__(self, mode: str, directory: Path, start_timeout: float = 10.0) -> None:
        self.mode = mode
        self.log_path = directory / f"upstream-{mode}-{os.getpid()}-{time.monotonic_ns()}.jsonl"
        self.log_path.touch()
        root = Path(__file__).resolve().parents[2]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.proxy.misbehaving_upstream", "--mode", mode, "--log", str(self.log_path)],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        deadline = time.monotonic() + start_timeout
        data = b""
        while b"\n" not in data:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"the misbehaving upstream ({mode}) did not start: {data!r}")
            chunk = self.proc.stdout.read()
            if chunk:
                data += chunk
            else:
                time.sleep(0.02)
        self.port = int(data.split(b"\n", 1)[0].split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def entries(self) -> list[Seen]:
        out: list[Seen] = []
        for line in self.log_path.read_text().splitlines():
            if not line.strip():
                continue
            e = json.loads(line)
            if "error" in e:
                out.append(Seen(e.get("conn", 0), "", "", [], b"", error=e["error"], raw=e))
            else:
                out.append(
                    Seen(
                        e["conn"],
                        e["method"],
                        e["target"],
                        [tuple(h) for h in e["headers"]],
                        base64.b64decode(e["body_b64"]),
                        raw=e,
                    )
                )
        return out

    def settled(self, quiet: float = 0.3, limit: float = 5.0) -> list[Seen]:
        """The log once it has not grown for `quiet` seconds (bounded by `limit`)."""
        deadline = time.monotonic() + limit
        size = -1
        while time.monotonic() < deadline:
            now = self.log_path.stat().st_size
            if now == size:
                break
            size = now
            time.sleep(quiet)
        return self.entries()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


# --- the client side: a strict, bounded reader of the gateway's responses ------------------------------------------


class NoResponse(Exception):
    """The connection ended before any byte of a response."""


class Malformed(Exception):
    """The gateway sent something that is not a well-formed HTTP/1.1 response."""


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    complete: bool  # False: the connection was cut before the framed end of the body
    informational: list[int] = field(default_factory=list)  # 1xx statuses received before this one

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def closes(self) -> bool:
        return not self.complete or "close" in (self.header("Connection") or "").lower()


_STATUS_LINE = re.compile(rb"HTTP/1\.1 ([1-5][0-9][0-9]) [^\r\n]*")
_ID = re.compile(rb"id=([A-Za-z0-9_.\-]+);")


def ids_in(data: bytes) -> set[str]:
    """Every request id named in some bytes (the upstream writes `id=<id>;`)."""
    return {m.decode() for m in _ID.findall(data)}


async def read_response(reader: asyncio.StreamReader, method: str, max_1xx: int = 5) -> Response:
    """Read one response; raise NoResponse, Malformed or asyncio.IncompleteReadError (cut mid-head)."""
    informational: list[int] = []
    while True:
        try:
            raw_head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise NoResponse from None
            raise Malformed(f"connection cut in the middle of a response head: {exc.partial[:200]!r}") from None
        except asyncio.LimitOverrunError:
            raise Malformed("response head over the reader's limit") from None
        lines = raw_head[:-4].split(b"\r\n")
        m = _STATUS_LINE.fullmatch(lines[0])
        if m is None:
            raise Malformed(f"not a status line: {lines[0][:200]!r}")
        status = int(m.group(1))
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not re.fullmatch(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", name):
                raise Malformed(f"bad header line: {line[:200]!r}")
            headers.append((name.decode(), value.strip(b" \t").decode("latin-1")))
        if 100 <= status < 200 and status != 101:
            informational.append(status)
            if len(informational) > max_1xx:
                raise Malformed(f"more than {max_1xx} 1xx responses")
            continue
        break
    resp = Response(status, headers, b"", True, informational)
    if method == "HEAD" or status in (101, 204, 304):
        return resp
    te = (resp.header("Transfer-Encoding") or "").lower()
    cl = resp.header("Content-Length")
    if "chunked" in te:
        parts: list[bytes] = []
        try:
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    break
                parts.append(await reader.readexactly(size))
                if await reader.readexactly(2) != b"\r\n":
                    raise Malformed("bad chunk terminator")
        except asyncio.IncompleteReadError as exc:
            parts.append(exc.partial)
            resp.complete = False
        except ConnectionError:
            resp.complete = False
        except ValueError:
            raise Malformed("bad chunk size line") from None
        resp.body = b"".join(parts)
    elif cl is not None:
        if not cl.isascii() or not cl.isdigit():
            raise Malformed(f"bad Content-Length {cl!r}")
        try:
            resp.body = await reader.readexactly(int(cl))
        except asyncio.IncompleteReadError as exc:
            resp.body = exc.partial
            resp.complete = False
        except ConnectionError:
            resp.complete = False
    else:
        resp.body = await reader.read()  # delimited by the end of the connection
    return resp


class Client:
    """One keep-alive client connection to the gateway; reconnects when the gateway closes it."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.port = port
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reused = False

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(self, raw: bytes, method: str) -> Response:
        """Send one request and read its response, all within `timeout` (TimeoutError otherwise). A reused
        connection that ends before any byte of the response is retried once on a new one (RFC 9112 §9.3.1)."""
        async with asyncio.timeout(self.timeout):
            for attempt in range(2):
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1024 * 1024)
                    self.reused = False
                assert self.reader is not None
                try:
                    self.writer.write(raw)
                    await self.writer.drain()
                    resp = await read_response(self.reader, method)
                except (NoResponse, ConnectionResetError, BrokenPipeError):
                    was_reused = self.reused
                    await self.close()
                    if was_reused and attempt == 0:
                        continue
                    raise NoResponse from None
                except BaseException:
                    await self.close()
                    raise
                if resp.closes:
                    await self.close()
                else:
                    self.reused = True
                return resp
        raise AssertionError("unreachable")


def request_bytes(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes | None = None, host: str = "gw"
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"] + [f"{k}: {v}" for k, v in headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


if __name__ == "__main__":
    main()
