"""The redirect URI parser (gateway.redirect_uri), the CSP source builder and the JSON depth bound, in isolation."""

from __future__ import annotations

import json

import pytest

from gateway import jsonbody
from gateway.portal.pages import csp_source
from gateway.redirect_uri import RedirectUriError, parse_redirect_uri, redirect_uri_matches

# Every character class and shape the trust-boundary issue names, with a word the refusal must contain.
BAD: list[tuple[str, str]] = [
    ("https://a.example;frame-ancestors/cb", "';' or ','"),
    ("https://a.example;frame-ancestors http: https:/cb", "whitespace"),
    ("https://a.example,b.example/cb", "';' or ','"),
    ("https://a.example /cb", "whitespace"),
    ("https://a.example/c b", "whitespace"),
    ("https://a.example/c\tb", "whitespace"),
    ("https://a.example/c\u00a0b", "whitespace"),
    ('https://a.example/c"b', "quotes"),
    ("https://a.example/c'b", "quotes"),
    ("https://a.example/c`b", "quotes"),
    ("https://a.example\r\nSet-Cookie:x/cb", "control"),
    ("https://a.example/c\rb", "control"),
    ("https://a.example/c\nb", "control"),
    ("https://a.example/c\fb", "control"),
    ("https://a.example/c\x00b", "control"),
    ("https://a.example/c\x7fb", "control"),
    ("https://a.example:99999/cb", "port"),
    ("https://a.example:65536/cb", "port"),
    ("https://a.example:abc/cb", "port"),
    ("https://a.example:0/cb", "port"),
    ("https://a.example:/cb", "port"),
    ("https://a.example:443:443/cb", "port"),
    ("https://a.example:\u0663/cb", "ASCII"),  # an Arabic-Indic digit is not a port digit
    ("https://" + "a" * 5000 + "/cb", "2000"),
    ("https://" + ".".join(["a" * 60] * 5) + "/cb", "253"),
    ("https://" + "a" * 64 + ".example/cb", "DNS name"),
    ("https://-a.example/cb", "DNS name"),
    ("https://a_b.example/cb", "DNS name"),
    ("https://a..example/cb", "DNS name"),
    ("https://a.example./cb", "DNS name"),
    ("https:///cb", "host"),
    ("https://127.1/cb", "dotted-quad"),
    ("https://0x7f.0.0.1/cb", "dotted-quad"),
    ("https://2130706433/cb", "dotted-quad"),
    ("https://[::1/cb", "bracket"),
    ("https://[fe80::1%25eth0]/cb", "IPv6"),
    ("https://[::1]x/cb", "port"),
    ("https://user@a.example/cb", "userinfo"),
    ("https://user:pw@a.example/cb", "userinfo"),
    ("https://a.example/cb#frag", "fragment"),
    ("https://a.example/cb#", "fragment"),
    ("https://*.a.example/cb", "wildcard"),
    ("https://a.example/*", "wildcard"),
    ("http://a.example/cb", "https"),
    ("http://10.0.0.1/cb", "https"),
    ("javascript:alert(1)", "absolute"),
    ("javascript://a.example/%0aalert(1)", "absolute"),
    ("data:text/html,<script>alert(1)</script>", "absolute"),
    ("ftp://a.example/cb", "absolute"),
    ("//a.example/cb", "absolute"),
    ("https:a.example/cb", "absolute"),
    ("a.example/cb", "absolute"),
    ("/relative/cb", "absolute"),
    ("https://a.example\\cb", "DNS name"),
    ("https://a.example/c\\b", "URL characters"),
    ("https://a.example/c<b>", "URL characters"),
    ("https://a.example/c{b}", "URL characters"),
    ("https://a.example/c%zzb", "percent-encoding"),
    ("https://a.example/c%4", "percent-encoding"),
    ("https://a.example/../cb", "'..'"),
    ("https://a.example/a/%2e%2E/cb", "'..'"),
    ("https://bücher.example/cb", "ASCII"),
    ("https://a.example/" + "x" * 2000, "2000"),
    ("", "required"),
]

GOOD: list[tuple[str, str]] = [
    ("https://acme.example/oauth/callback", "https://acme.example/oauth/callback"),
    ("https://Acme.EXAMPLE/CB", "https://acme.example/CB"),  # the path keeps its case
    ("HTTPS://acme.example:443/cb", "https://acme.example/cb"),
    ("https://acme.example:8443/cb", "https://acme.example:8443/cb"),
    ("https://acme.example:08443/cb", "https://acme.example:8443/cb"),
    ("https://acme.example/cb?x=1&y=a%2fb", "https://acme.example/cb?x=1&y=a%2Fb"),
    ("https://acme.example/%7euser/%41", "https://acme.example/~user/A"),
    ("https://acme.example/cb;v=1,x=2?a=b:c@d/e?f", "https://acme.example/cb;v=1,x=2?a=b:c@d/e?f"),
    ("https://acme.example", "https://acme.example/"),
    ("https://acme.example?x=1", "https://acme.example/?x=1"),
    ("https://xn--bcher-kva.example/cb", "https://xn--bcher-kva.example/cb"),
    ("https://single/cb", "https://single/cb"),
    ("https://203.0.113.5:8443/cb", "https://203.0.113.5:8443/cb"),
    ("https://[2001:DB8:0:0::1]:8443/cb", "https://[2001:db8::1]:8443/cb"),
    ("http://localhost/cb", "http://localhost/cb"),
    ("HTTP://LOCALHOST:80/cb", "http://localhost/cb"),
    ("http://127.0.0.1:8765/cb", "http://127.0.0.1:8765/cb"),
    ("http://127.9.8.7/cb", "http://127.9.8.7/cb"),
    ("http://[::1]:9/cb", "http://[::1]:9/cb"),
    ("http://[0:0:0:0:0:0:0:1]/cb", "http://[::1]/cb"),
    ("https://a.example/" + "x" * (2000 - len("https://a.example/")), "https://a.example/" + "x" * 1982),
]


@pytest.mark.parametrize(("uri", "why"), BAD)
def test_refused_with_a_message_naming_the_problem(uri: str, why: str) -> None:
    with pytest.raises(RedirectUriError) as info:
        parse_redirect_uri(uri)
    assert why in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", [None, 5, b"https://a.example/cb", ["https://a.example/cb"]])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(RedirectUriError, match="must be a string"):
        parse_redirect_uri(value)


@pytest.mark.parametrize(("uri", "normalized"), GOOD)
def test_accepted_and_normalized(uri: str, normalized: str) -> None:
    parsed = parse_redirect_uri(uri)
    assert str(parsed) == normalized
    # Normalizing is idempotent: the stored value parses back to itself.
    assert parse_redirect_uri(normalized) == parsed
    assert str(parse_redirect_uri(normalized)) == normalized
    assert normalized.startswith(parsed.origin + "/")
    assert parsed.path_and_query.startswith("/")


def test_parts_and_origin() -> None:
    parsed = parse_redirect_uri("HTTPS://Acme.Example:8443/cb?x=1")
    assert (parsed.scheme, parsed.host, parsed.port, parsed.path_and_query) == (
        "https",
        "acme.example",
        8443,
        "/cb?x=1",
    )
    assert parsed.origin == "https://acme.example:8443"
    assert parse_redirect_uri("https://acme.example:443/cb").origin == "https://acme.example"
    assert parse_redirect_uri("http://[::1]:9/cb").origin == "http://[::1]:9"
    assert parse_redirect_uri("http://localhost/cb").loopback
    assert not parse_redirect_uri("https://acme.example/cb").loopback


def test_matching_compares_normalized_forms_only() -> None:
    registered = "https://acme.example/cb"
    for same in (
        "https://acme.example/cb",
        "https://ACME.example/cb",
        "HTTPS://acme.example:443/cb",
        "https://acme.example/%63b",
    ):
        assert redirect_uri_matches(registered, same), same
    for other in (
        "https://acme.example/cb/",
        "https://acme.example/CB",
        "https://acme.example/c",
        "https://acme.example/cb?x=1",
        "https://acme.example:8443/cb",
        "https://acme.example.evil/cb",
        "https://acme.example/cb#x",
        "https://acme.example/cb ",
        "not a uri",
        "",
    ):
        assert not redirect_uri_matches(registered, other), other
    # A stored value that does not parse (registered before validation was strict) matches nothing, itself included.
    legacy = "https://a.example;frame-ancestors http: https:/cb"
    assert not redirect_uri_matches(legacy, legacy)


# --- the CSP source builder -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        "https://acme.example",
        "https://acme.example:8443",
        "http://127.0.0.1:9",
        "http://[::1]:9",
        "https://xn--bcher-kva.example",
    ],
)
def test_csp_source_passes_validated_origins(origin: str) -> None:
    assert csp_source(origin) == origin


@pytest.mark.parametrize(
    "origin",
    [
        "",
        "https://a.example;frame-ancestors *",
        "https://a.example frame-ancestors",
        "https://a.example,b",
        "https://a.example'",
        'https://a.example"',
        "https://a.example\n",
        "https://a.example\t",
        "'self'",
        "https://a.example\f",
        "https://*.a.example",
        "https://",
        "a.example",
        "https://a.example/\u0663",
    ],
)
def test_csp_source_refuses_anything_else(origin: str) -> None:
    with pytest.raises(ValueError, match="CSP"):
        csp_source(origin)


@pytest.mark.parametrize(("uri", "normalized"), GOOD)
def test_every_accepted_origin_is_a_csp_source(uri: str, normalized: str) -> None:
    assert csp_source(parse_redirect_uri(uri).origin) == parse_redirect_uri(normalized).origin


# --- the JSON depth bound ---------------------------------------------------------------------------------------


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def test_depth_at_the_limit_is_parsed() -> None:
    assert jsonbody.loads(nested(jsonbody.MAX_DEPTH).encode()) is not None
    assert jsonbody.loads(b'{"a": ' + nested(jsonbody.MAX_DEPTH - 1).encode() + b"}")["a"]


@pytest.mark.parametrize(
    "raw",
    [
        nested(jsonbody.MAX_DEPTH + 1).encode(),
        b"[" * 100_000,
        b"{" * 100_000,
        b'{"a":' * 100_000,
        nested(100_000).encode(),
        b'{"name": "x", "scopes": ' + nested(50).encode() + b"}",
    ],
)
def test_deeper_is_refused_before_parsing(raw: bytes) -> None:
    with pytest.raises(jsonbody.TooDeep):
        jsonbody.loads(raw)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"name": "[" * 10_000 + "{" * 10_000, "other": 'a\\"[[[[' + "]" * 100})
    assert jsonbody.loads(text.encode())["name"].startswith("[[[")


def test_many_shallow_brackets_are_fine() -> None:
    raw = ("[" + ",".join(["[[]]"] * 50_000) + "]").encode()
    assert len(jsonbody.loads(raw)) == 50_000


def test_invalid_json_is_still_a_value_error() -> None:
    for raw in (b"{", b"[}", b"nope", b'"unterminated'):
        with pytest.raises(ValueError) as info:
            jsonbody.loads(raw)
        assert not isinstance(info.value, jsonbody.TooDeep)
