"""Redirect URIs are data: one strict parser, used when an application is registered or edited (the stored value
is its normalized output) and whenever a presented redirect URI is compared with the registered one.

Accepted today (RFC 3986 syntax, narrowed):
- scheme `https`; `http` only for loopback hosts (`localhost`, 127.0.0.0/8, `[::1]`);
- a host that is a DNS name (LDH labels of 1-63 characters, at most 253 in all) or an IP literal (IPv6 in brackets);
- an optional numeric port 1-65535;
- a path and query made only of RFC 3986 characters (unreserved, sub-delims except `'` and `*`, `:`, `@`, `/`,
  `?`) and well-formed `%XX`;
- no fragment, userinfo, wildcard, whitespace, control character or quote anywhere; at most 2,000 characters.

Normalized: scheme and host lowercased, IPv6 compressed, the scheme's default port dropped, an empty path made `/`,
percent-encoding upper-cased with encoded unreserved characters decoded (RFC 3986 §6.2.2). Parsing a normalized
value gives it back unchanged.

Kinds of application (RFC 8252, native apps):
- every application: `https` URLs, and `http` on loopback hosts (for development);
- public applications (Server-Side off) also: private-use URI schemes (§7.1) whose scheme is a reverse domain name
  with at least one dot, in the form `com.example.app:/path` (single-word schemes such as `myapp:`, and
  `javascript:`, `data:`, `file:` and the like, are refused). `check_kind` says which kind may register which.

Matching (`RedirectUri.matches`): the same normalized URI (no prefix or pattern matching, RFC 9700 §4.1.3), except
that for public applications a registered loopback IP literal (`http://127.0.0.1[:port]/path`,
`http://[::1][:port]/path`) matches the same URI on any port (RFC 8252 §7.3: desktop apps listen on an ephemeral
port). `localhost` keeps its exact port (§8.3 discourages it; a name can resolve elsewhere).

This module is the one place that decides what a redirect URI is and when two are the same.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MAX_LENGTH = 2000
MAX_HOST = 253
DEFAULT_PORTS = {"https": 443, "http": 80}

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# A private-use scheme: a reverse domain name, at least two labels (RFC 8252 §7.1).
_PRIVATE_SCHEME = re.compile(r"[a-z][a-z0-9\-]*(?:\.[a-z0-9][a-z0-9\-]*)+")
_ABSOLUTE = (
    "must be an absolute https URL (or, for an application with Server-Side off, a loopback http URL or a "
    "private-use scheme such as com.example.app:/callback)"
)
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")  # a last label a browser would read as (part of) an IPv4 address
_PORT = re.compile(r"[0-9]{1,5}")
# RFC 3986 pchar plus "/" and "?" (path and query), without the quote "'" and the wildcard "*" of sub-delims.
_PATH_AND_QUERY = re.compile(r"(?:[A-Za-z0-9\-._~!$&()+,;=:@/?]|%[0-9A-Fa-f]{2})*")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_QUOTES = frozenset("\"'`")


class RedirectUriError(ValueError):
    """A refused redirect URI. The message reads after the field's name: "must use https ..."."""


@dataclass(frozen=True, slots=True)
class RedirectUri:
    """A validated, normalized redirect URI; `str()` is the value to store and to redirect to."""

    scheme: str  # lowercase: "https", "http", or a private-use scheme such as "com.example.app"
    host: str  # lowercase DNS name, dotted IPv4, or compressed IPv6 in brackets ("" for a private-use scheme)
    port: int | None  # None: the scheme's default port
    path_and_query: str  # starts with "/"

    @property
    def private_use(self) -> bool:
        """A private-use scheme (`com.example.app:/cb`): only public applications may register one."""
        return self.scheme not in DEFAULT_PORTS

    @property
    def origin(self) -> str:
        """`scheme://host[:port]` (for a private-use scheme: `scheme:`), made only of characters a CSP source
        expression may carry. A browser's `Origin` header can only ever equal the origin of an http(s) URI."""
        if self.private_use:
            return f"{self.scheme}:"
        return f"{self.scheme}://{self.host}" if self.port is None else f"{self.scheme}://{self.host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return not self.private_use and _is_loopback(self.host)

    @property
    def loopback_ip(self) -> bool:
        """`http` on a loopback IP literal (not `localhost`): any port matches for public clients (RFC 8252 §7.3)."""
        return self.scheme == "http" and self.host != "localhost" and _is_loopback(self.host)

    def matches(self, presented: RedirectUri, *, public: bool = False) -> bool:
        """Whether `presented` (from an authorization or token request) is this registered URI: the same
        normalized URI (RFC 9700 §4.1.3: no prefix or pattern matching); for a public client (`public`), a
        loopback IP literal on any port with the same path and query (RFC 8252 §7.3)."""
        if self == presented:
            return True
        return (
            public
            and self.loopback_ip
            and presented.scheme == self.scheme
            and presented.host == self.host
            and presented.path_and_query == self.path_and_query
        )

    def __str__(self) -> str:
        return self.origin + self.path_and_query


def parse_redirect_uri(text: object) -> RedirectUri:
    """The validated, normalized form of `text`, or RedirectUriError saying what is wrong with it."""
    if not isinstance(text, str):
        raise RedirectUriError("must be a string")
    if not text:
        raise RedirectUriError("is required")
    if len(text) > MAX_LENGTH:
        raise RedirectUriError(f"must be at most {MAX_LENGTH} characters")
    if any(c.isspace() or c in _QUOTES or ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        raise RedirectUriError("must not contain whitespace, control characters or quotes")
    if not text.isascii():
        raise RedirectUriError("must contain only ASCII characters (punycode the host, percent-encode the path)")
    scheme_match = _SCHEME.match(text)
    if scheme_match is None:
        raise RedirectUriError(_ABSOLUTE)
    scheme = scheme_match.group()[:-1].lower()
    if scheme in DEFAULT_PORTS:
        if not text.startswith("//", scheme_match.end()):
            raise RedirectUriError(_ABSOLUTE)
        return _parse_web(scheme, text[scheme_match.end() + 2 :])
    if _PRIVATE_SCHEME.fullmatch(scheme) is None:
        # Single-word schemes (`myapp:`) can be claimed by any app; javascript:, data:, file: are not redirects.
        raise RedirectUriError(_ABSOLUTE)
    return _parse_private(scheme, text[scheme_match.end() :])


def check_kind(uri: RedirectUri, *, server_side: bool) -> None:
    """Whether an application of this kind may register `uri`: private-use schemes only with Server-Side off
    (a native app, RFC 8252 §7.1); https and loopback http for both."""
    if server_side and uri.private_use:
        raise RedirectUriError(
            "must be an https URL for a Server-Side application (private-use schemes such as "
            "com.example.app:/callback are for apps with Server-Side off)"
        )


def resolve_redirect_uri(registered: str, presented: str | None, *, public: bool) -> RedirectUri:
    """The URI an authorization request redirects to: the presented one (normalized) when it matches the
    registered one (for a public client a loopback IP URI on any port), or the registered one when the request
    omitted it (RFC 6749 §3.1.2.3: an application has exactly one). RedirectUriError when the registered value no
    longer parses or the presented one does not match."""
    target = parse_redirect_uri(registered)
    if presented is None:
        return target
    candidate = parse_redirect_uri(presented)
    if not target.matches(candidate, public=public):
        raise RedirectUriError("does not match the registered redirect URI")
    return candidate


def redirect_uri_matches(registered: str, presented: str, *, public: bool = False) -> bool:
    """Whether a presented redirect URI names the registered one. A registered value that no longer parses (stored
    before validation was strict) matches nothing."""
    try:
        return parse_redirect_uri(registered).matches(parse_redirect_uri(presented), public=public)
    except RedirectUriError:
        return False


def _parse_private(scheme: str, rest: str) -> RedirectUri:
    """`rest`: what follows `scheme:`; RFC 8252 §7.1's form is `com.example.app:/path`."""
    if "*" in rest:
        raise RedirectUriError("must not contain a wildcard")
    if "#" in rest:
        raise RedirectUriError("must not have a fragment")
    if not rest.startswith("/") or rest.startswith("//"):
        raise RedirectUriError(
            "must have the form com.example.app:/path (a private-use scheme, one slash, RFC 8252 §7.1)"
        )
    return RedirectUri(scheme, "", None, _path_and_query(rest))


def _parse_web(scheme: str, rest: str) -> RedirectUri:
    """`rest`: what follows `scheme://`."""
    if "*" in rest:
        raise RedirectUriError("must not contain a wildcard")
    if "#" in rest:
        raise RedirectUriError("must not have a fragment")
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, path_and_query = rest[:cut], rest[cut:]
    if "@" in authority:
        raise RedirectUriError("must not contain userinfo")
    if ";" in authority or "," in authority:
        raise RedirectUriError("must not contain ';' or ',' in the host or port")
    host, port = _authority(scheme, authority)
    if scheme == "http" and not _is_loopback(host):
        raise RedirectUriError("must use https (http is allowed only for loopback addresses)")
    return RedirectUri(scheme, host, port, _path_and_query(path_and_query))


def _authority(scheme: str, authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise RedirectUriError("must close the bracket of its IPv6 address")
        host = _ipv6(authority[1:end])
        after = authority[end + 1 :]
        if after and not after.startswith(":"):
            raise RedirectUriError("must have only a port after its IPv6 address")
        port_text = after[1:] if after else None
    else:
        name, colon, port_text_or_empty = authority.partition(":")
        host = _dns_or_ipv4(name)
        port_text = port_text_or_empty if colon else None
    if port_text is None:
        return host, None
    if _PORT.fullmatch(port_text) is None or not 1 <= int(port_text) <= 65535:
        raise RedirectUriError("must have a port between 1 and 65535 (digits only)")
    port = int(port_text)
    return host, None if port == DEFAULT_PORTS[scheme] else port


def _ipv6(text: str) -> str:
    # No zone id ("%25eth0"): it names an interface of the client's machine, not a host.
    try:
        if "%" in text:
            raise ValueError(text)
        address = ipaddress.IPv6Address(text)
    except ValueError:
        raise RedirectUriError("must have a valid IPv6 address between its brackets") from None
    return f"[{address.compressed}]"


def _dns_or_ipv4(text: str) -> str:
    if not text:
        raise RedirectUriError("must name a host")
    host = text.lower()
    if len(host) > MAX_HOST:
        raise RedirectUriError(f"must have a host of at most {MAX_HOST} characters")
    labels = host.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise RedirectUriError(
            "must have a host that is a DNS name (labels of 1-63 letters, digits or hyphens, "
            "not starting or ending with a hyphen) or an IP address (IPv6 in brackets)"
        )
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        # Browsers read "127.1", "0x7f.1" or "2130706433" as IPv4 addresses: only the dotted-quad form is one.
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise RedirectUriError("must have an IPv4 address in dotted-quad form (four numbers 0-255)") from None
    return host


def _path_and_query(text: str) -> str:
    if _PATH_AND_QUERY.fullmatch(text) is None:
        if re.search(r"%(?![0-9A-Fa-f]{2})", text):
            raise RedirectUriError("must use well-formed percent-encoding (%XX) in its path and query")
        raise RedirectUriError(
            "must have a path and query made only of URL characters (RFC 3986); percent-encode anything else"
        )
    normalized = _PERCENT.sub(_normalize_escape, text)
    path, question, query = normalized.partition("?")
    if any(segment in (".", "..") for segment in path.split("/")):
        raise RedirectUriError("must not contain '.' or '..' path segments")
    return (path or "/") + question + query


def _normalize_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "[::1]"):
        return True
    try:
        return ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        return False


def with_params(uri: str, params: Mapping[str, str]) -> str:
    """Append parameters to a registered redirect URI, keeping the query it already has (RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
