"""A strict, sans-IO reader of one HTTP/1.1 response (RFC 9112), on llhttp through httptools.

It is fed bytes and says what they mean: the head, body pieces, the end. It never does I/O, so the property tests
drive it byte by byte. Whatever it cannot frame exactly raises `FramingError`, and the connection it came from must
then be closed: the point is that one response's bytes can never become the start of the next one.

Framing it adds on top of llhttp, which does not know the request:
- a response to HEAD, and 1xx/204/304 responses, have no body whatever their headers say (RFC 9112 §6.3);
- 1xx interim responses are skipped (at most `MAX_INTERIM`); 101 is refused (upgrades are not tunnelled);
- the head is bounded by `MAX_HEAD` bytes however TCP splits it, fields by `MAX_FIELDS`, trailers likewise;
- any byte after the final response is complete is an anomaly (a stray or late extra response).
"""

from __future__ import annotations

from collections import deque

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

MAX_HEAD = 64 * 1024  # one response head, status line to the blank line
MAX_FIELDS = 100  # header fields in one head; the same bound for trailer fields
MAX_INTERIM = 8  # 1xx responses before the final one
_NO_BODY_STATUS = frozenset({204, 304})


class FramingError(Exception):
    """The upstream's bytes do not frame one well-formed response: answer 502 and close the connection."""


class Head:
    """A final response head. `fields` keeps the header fields as received, in order: the relay filters them
    straight into the client response, so no intermediate multidict is built per response (`headers` builds one on
    demand). The framing facts the reader needs are read once, while parsing."""

    __slots__ = ("_headers", "chunked", "connection", "content_length", "fields", "keep_alive", "reason", "status")

    def __init__(
        self,
        status: int,
        reason: str,
        fields: list[tuple[str, str]],
        *,
        connection: frozenset[str],
        chunked: bool,
        content_length: int | None,
        keep_alive: bool,
    ) -> None:
        self.status = status
        self.reason = reason
        self.fields = fields
        self.connection = connection  # lower-cased tokens of every `Connection` field
        self.chunked = chunked  # a Transfer-Encoding field is present (its last coding is then chunked)
        self.keep_alive = keep_alive  # HTTP/1.1 and no `Connection: close`
        self.content_length = content_length  # as declared (also on HEAD, 204 and 304)
        self._headers: CIMultiDictProxy[str] | None = None

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        if self._headers is None:
            self._headers = CIMultiDictProxy(CIMultiDict(self.fields))
        return self._headers


class ResponseReader:
    """Reads one response to a request made with `method`. `feed()` and `feed_eof()` raise FramingError.

    After each feed: `head` is set once the final head is complete; `take_body()` returns the body bytes read so far;
    `complete` turns true at the end of the message. `reusable` says whether the connection may carry another
    request: complete, keep-alive, nothing extra received.
    """

    __slots__ = (
        "_after_head",
        "_body",
        "_buf",
        "_clean",
        "_crlf_run",
        "_fields",
        "_head_fed",
        "_headers",
        "_interim",
        "_no_body",
        "_parser",
        "_reason",
        "_since_progress",
        "buffered",
        "complete",
        "head",
        "method_head",
    )

    def __init__(self, method: str) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self.reset(method)

    def reset(self, method: str) -> ResponseReader:
        """Ready for the next response on the same connection. llhttp's parser is kept only after a message it
        ended itself (it is then at a message boundary); after a HEAD or any error it is replaced."""
        if not getattr(self, "_clean", True):
            self._parser = httptools.HttpResponseParser(self)
        self._clean = False
        self.method_head = method == "HEAD"
        self.head: Head | None = None
        self.complete = False
        self.buffered = 0  # body bytes read but not yet taken
        self._buf = bytearray()  # bytes of a head not yet terminated
        self._head_fed = False  # the final head went to the parser; later bytes are body
        self._headers: list[tuple[bytes, bytes]] = []  # raw fields of the head being read
        self._fields = 0
        self._reason = ""
        self._interim = 0
        self._no_body = False
        self._body: deque[bytes] = deque()
        self._since_progress = 0  # bytes fed since the last body byte (bounds chunk lines and trailers)
        self._after_head = 0  # bytes fed after the final head
        self._crlf_run = 0  # length of the run of CR/LF bytes that ends what was fed
        return self

    # --- feeding ---------------------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if self.complete:
            raise FramingError("bytes after the end of the response")
        if self._head_fed:
            self._body_phase(data)
            return
        if self._buf:  # the rest of a head that came in pieces
            self._buf += data
            data = bytes(self._buf)
            self._buf.clear()
        while True:  # the common case, a whole head (and body) in one read, copies the head once
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > MAX_HEAD:
                    raise FramingError("the response head is too large")
                self._buf += data
                return
            if end + 4 > MAX_HEAD:
                raise FramingError("the response head is too large")
            head, data = data[: end + 4], data[end + 4 :]
            self._parse(head)  # one whole head: interim (and then loop), or the final one
            if self.head is None:
                continue
            self._head_fed = True
            if self.complete:
                if data:
                    raise FramingError("bytes after a response without a body")
                return
            if data:
                self._body_phase(data)
            return

    def _body_phase(self, data: bytes) -> None:
        self._since_progress += len(data)
        self._after_head += len(data)
        self._crlf_run = _crlf_run(data, self._crlf_run)
        self._parse(data)
        if self.complete:
            # llhttp silently skips CR/LF between messages; count them. A Content-Length body ends exactly at its
            # length; a chunked one with CRLF CRLF right after a byte that is not CR or LF.
            head = self.head
            assert head is not None
            chunked = head.chunked
            if (not chunked and head.content_length is not None and self._after_head > head.content_length) or (
                chunked and self._crlf_run > 4
            ):
                raise FramingError("bytes after the end of the response")
        elif self._since_progress > MAX_HEAD:
            raise FramingError("chunk metadata or trailers beyond the limit")

    def feed_eof(self) -> None:
        """The upstream closed its side. Completes a close-delimited body; anything else unfinished is an error."""
        if self.complete:
            return
        if self.head is not None and self._head_fed and self._close_delimited():
            self.complete = True
            return
        raise FramingError("the upstream closed the connection before the response ended")

    def take_body(self) -> bytes:
        if not self._body:
            return b""
        data = self._body.popleft() if len(self._body) == 1 else b"".join(self._body)
        self._body.clear()
        self.buffered = 0
        return data

    @property
    def reusable(self) -> bool:
        return self.complete and self.head is not None and self.head.keep_alive and not self._close_delimited()

    @property
    def started(self) -> bool:
        """Any byte of a response arrived (a connection that closes before that is merely stale)."""
        return bool(self._buf) or self._head_fed or self._interim > 0

    def _close_delimited(self) -> bool:
        h = self.head
        return h is not None and not self._no_body and h.content_length is None and not h.chunked

    def _parse(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except FramingError:
            raise
        except httptools.HttpParserUpgrade as exc:
            raise FramingError("the upstream switched protocols") from exc
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _HeadDone):
                return  # stopped on purpose after a bodyless final head
            if isinstance(cause, FramingError):
                raise FramingError(str(cause)) from cause
            raise FramingError("malformed response from the upstream") from exc
        except httptools.HttpParserError as exc:
            raise FramingError(f"malformed response from the upstream: {exc}") from exc

    # --- httptools callbacks -----------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.head is not None:
            raise FramingError("bytes after the end of the response")
        self._headers = []
        self._fields = 0

    def on_status(self, status: bytes) -> None:
        self._reason = _text(status)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        if self._fields > MAX_FIELDS:
            raise FramingError("too many header or trailer fields")
        if self.head is None:
            self._headers.append((name, value))
        # trailer fields are counted and dropped: the relay does not forward trailers

    def on_headers_complete(self) -> None:
        if self.head is not None:
            return
        parser = self._parser
        version = parser.get_http_version()
        if version not in ("1.1", "1.0"):
            raise FramingError("the upstream does not speak HTTP/1.x")
        status = parser.get_status_code()
        if status == 101:
            raise FramingError("the upstream switched protocols")
        if not 100 <= status <= 599:
            raise FramingError("invalid status code from the upstream")
        if status < 200:
            self._interim += 1
            if self._interim > MAX_INTERIM:
                raise FramingError("too many interim responses")
            return
        try:
            # UTF-8 round-trips exactly through aiohttp's response writer; other bytes could not be relayed as sent.
            fields = [(n.decode("utf-8"), v.decode("utf-8")) for n, v in self._headers]
        except UnicodeDecodeError as exc:
            raise FramingError("a response head that is not UTF-8") from exc
        connection: set[str] = set()
        length: int | None = None
        codings: list[str] | None = None
        for name, value in fields:  # the framing fields, read once (names compared case-insensitively)
            key = name.lower()
            if key == "connection":
                connection.update(t.strip().lower() for t in value.split(","))
            elif key == "content-length":
                if length is None:  # llhttp refuses differing repeats and accepts ASCII digits only
                    length = int(value)
            elif key == "transfer-encoding":
                codings = (codings or []) + [c.strip().lower() for c in value.split(",")]
        if codings is not None and (not codings or codings[-1] != "chunked"):
            # llhttp would read to close; a relay cannot tell where such a body ends on a reused connection
            raise FramingError("a transfer coding other than chunked last")
        self.head = Head(
            status,
            self._reason,
            fields,
            connection=frozenset(connection),
            chunked=codings is not None,
            content_length=length,
            keep_alive=version == "1.1" and "close" not in connection,
        )
        self._fields = 0
        if self.method_head or status in _NO_BODY_STATUS:
            self._no_body = True
            self.complete = True
            if self.method_head:  # llhttp would wait for the body the headers announce: stop it here
                raise _HeadDone()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)
        self.buffered += len(body)
        self._since_progress = 0

    def on_message_complete(self) -> None:
        if self.head is not None:
            self.complete = True
            self._clean = True


class _HeadDone(FramingError):
    """Raised inside the parser to stop it after a bodyless final head (the caller checks what follows)."""


def _crlf_run(data: bytes, before: int) -> int:
    """The length of the run of CR/LF bytes that ends `before` bytes of CR/LF followed by `data` (no copy)."""
    i = len(data)
    while i and data[i - 1] in (10, 13):
        i -= 1
    return before + len(data) if i == 0 else len(data) - i


def _text(raw: bytes) -> str:
    try:
        # UTF-8 round-trips exactly through aiohttp's response writer; other bytes could not be relayed unchanged.
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FramingError("a response head that is not UTF-8") from exc
