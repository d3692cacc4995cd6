"""Property tests of the upstream response reader (gateway/proxy/h1.py): it frames exactly or refuses."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.proxy.h1 import MAX_HEAD, FramingError, ResponseReader

_TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-!#$%&'*+.^_`|~", min_size=1, max_size=20
).filter(lambda n: n.lower() not in ("content-length", "transfer-encoding", "connection"))
_VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, int, bytes, str]:
    status = draw(st.sampled_from([200, 201, 202, 400, 404, 500, 503]))
    body = draw(st.binary(max_size=300))
    headers = draw(st.lists(st.tuples(_TOKEN, _VALUE), max_size=6))
    framing = draw(st.sampled_from(["length", "chunked"]))
    head = f"HTTP/1.1 {status} Whatever\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    if framing == "length":
        raw = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    else:
        pieces = _split(body, draw(st.lists(st.integers(0, 400), max_size=4)))
        chunks = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in pieces if p)
        raw = (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\n\r\n"
    return raw, status, body, framing


def _read(reader: ResponseReader, parts: list[bytes]) -> bytes:
    body = b""
    for part in parts:
        reader.feed(part)
        body += reader.take_body()
    return body


@settings(max_examples=300, deadline=None)
@given(responses(), st.lists(st.integers(0, 2000), max_size=8))
def test_a_well_framed_response_is_read_exactly_however_it_is_split(
    resp: tuple[bytes, int, bytes, str], cuts: list[int]
) -> None:
    raw, status, body, _ = resp
    reader = ResponseReader("GET")
    got = _read(reader, _split(raw, cuts))
    assert reader.head is not None and reader.head.status == status
    assert got == body
    assert reader.complete and reader.reusable


@settings(max_examples=300, deadline=None)
@given(responses(), st.binary(min_size=1, max_size=40), st.lists(st.integers(0, 2000), max_size=6))
def test_any_byte_after_the_response_is_refused(
    resp: tuple[bytes, int, bytes, str], extra: bytes, cuts: list[int]
) -> None:
    raw, *_ = resp
    reader = ResponseReader("GET")
    try:
        _read(reader, _split(raw + extra, cuts))
    except FramingError:
        return
    raise AssertionError("extra bytes were accepted")


@settings(max_examples=500, deadline=None)
@given(
    responses(),
    st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), min_size=1, max_size=4),
    st.sampled_from(["GET", "HEAD"]),
    st.booleans(),
)
def test_a_mutated_response_is_framed_or_refused_never_anything_else(
    resp: tuple[bytes, int, bytes, str], flips: list[tuple[int, int]], method: str, eof: bool
) -> None:
    raw = bytearray(resp[0])
    for pos, byte in flips:
        raw[pos % len(raw)] = byte
    reader = ResponseReader(method)
    try:
        body = _read(reader, [bytes(raw)])
        if eof:
            reader.feed_eof()
    except FramingError:
        return  # refused: the caller closes the connection
    if reader.complete:
        head = reader.head
        assert head is not None
        if method == "HEAD" or head.status in (204, 304):
            assert body == b""
        elif head.content_length is not None and "Transfer-Encoding" not in head.headers:
            assert len(body) == head.content_length  # what was relayed is what was declared
    else:
        assert not reader.reusable


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(["GET", "HEAD"]))
def test_random_bytes_never_raise_anything_but_a_framing_error(data: bytes, method: str) -> None:
    reader = ResponseReader(method)
    try:
        reader.feed(data)
        reader.feed_eof()
    except FramingError:
        return


def test_bodyless_responses_with_a_body_are_refused() -> None:
    for method, status in (("HEAD", 200), ("GET", 204), ("GET", 304)):
        reader = ResponseReader(method)
        try:
            reader.feed(b"HTTP/1.1 %d X\r\nContent-Length: 3\r\n\r\nabc" % status)
        except FramingError:
            continue
        raise AssertionError((method, status))
    reader = ResponseReader("HEAD")
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n")
    assert reader.complete and reader.reusable and reader.head is not None and reader.head.content_length == 3


def test_limits_hold_however_the_bytes_arrive() -> None:
    def refused(method: str, parts: list[bytes]) -> bool:
        reader = ResponseReader(method)
        try:
            for p in parts:
                reader.feed(p)
        except FramingError:
            return True
        return False

    big = b"HTTP/1.1 200 OK\r\nX: " + b"a" * (MAX_HEAD + 10) + b"\r\nContent-Length: 0\r\n\r\n"
    assert refused("GET", [big])
    assert refused("GET", [big[i : i + 7] for i in range(0, len(big), 7)])
    assert refused("GET", [b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"] * 20)
    assert refused(
        "GET", [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n"] + [b"T: 1\r\n"] * 500
    )
    assert refused("GET", [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n"])
    assert refused("GET", ["HTTP/1.1 200 OK\r\nContent-Length: \u0663\r\n\r\nabc".encode()])
    assert refused("GET", ["HTTP/1.1 200 OK\r\nContent-Length: \u00b2\r\n\r\nab".encode()])
    assert refused("GET", [b"HTTP/1.1 200 OK\r\nBad Name: 1\r\nContent-Length: 0\r\n\r\n"])
    assert refused("GET", [b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"])
    assert refused("GET", [b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(responses(), st.sampled_from(["GET", "HEAD"])), min_size=2, max_size=6))
def test_one_reader_reset_between_responses_reads_each_exactly(
    seq: list[tuple[tuple[bytes, int, bytes, str], str]],
) -> None:
    """The connection keeps one reader (and llhttp's parser) across keep-alive responses."""
    reader = ResponseReader("GET")
    for (raw, status, body, _), method in seq:
        reader.reset(method)
        if method == "HEAD":
            raw = raw[: raw.index(b"\r\n\r\n") + 4]
        got = _read(reader, [raw])
        assert reader.head is not None and reader.head.status == status
        assert got == (b"" if method == "HEAD" else body)
        assert reader.complete and reader.reusable
