"""Secrets: opaque token minting (prefix + CRC32 checksum), keyed hashing, PKCE S256 (RFC 7636 §4.6), passwords.

Tokens look like ``sgat_<43 base62 chars = 256 random bits><6 base62 chars of CRC32>``: the prefix tells the kind
(and lets secret scanners find leaks), the checksum lets the gateway drop garbage before any Redis round trip.
Only keyed hashes (HMAC-SHA256 with the server secret, domain-separated by kind) are ever stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import zlib
from enum import Enum

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BODY_LEN = 43  # 62**43 > 2**256
_CRC_LEN = 6  # 62**6 > 2**32


class TokenKind(Enum):
    ACCESS = "sgat_"
    REFRESH = "sgrt_"
    CODE = "sgac_"
    CLIENT_SECRET = "sgcs_"  # noqa: S105 - a prefix, not a secret

    @property
    def prefix(self) -> str:
        return self.value


TOKEN_LENGTH = 5 + _BODY_LEN + _CRC_LEN


def _b62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(reversed(out))


_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)  # every two-digit base62 string, by value


def _checksum(head: str) -> str:
    # _b62(crc, 6) two digits at a time: checked on every request, so three table lookups instead of six divmods.
    n = zlib.crc32(head.encode("ascii"))
    n, low = divmod(n, 3844)
    high, mid = divmod(n, 3844)
    return _PAIRS[high] + _PAIRS[mid] + _PAIRS[low]


def mint(kind: TokenKind) -> str:
    """A fresh token of `kind` with 256 bits from the OS CSPRNG."""
    head = kind.prefix + _b62(secrets.randbits(256), _BODY_LEN)
    return head + _checksum(head)


def well_formed(raw: str, kind: TokenKind) -> bool:
    """Prefix, length, alphabet and checksum: cheap checks that need no store."""
    if len(raw) != TOKEN_LENGTH or not raw.startswith(kind.prefix):
        return False
    head, crc = raw[:-_CRC_LEN], raw[-_CRC_LEN:]
    if not raw[5:].isascii() or not raw[5:].isalnum():
        return False
    return hmac.compare_digest(_checksum(head), crc)


def random_id(nbytes: int = 16) -> str:
    """A random identifier (client ids, grant ids): url-safe, not a secret."""
    return _b62(int.from_bytes(secrets.token_bytes(nbytes), "big"), (nbytes * 8 * 100 + 594) // 595)


class Hasher:
    """Keyed hashing of secrets; the key comes from SCOPEGATE_SECRET_KEY only."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("secret key must be at least 16 bytes")
        self._key = key

    def hash(self, raw: str) -> str:
        # The kind prefix is part of the input, so an access token's hash never equals a refresh token's.
        digest = hmac.digest(self._key, raw.encode("utf-8"), "sha256")[:16]  # one-shot C path: ~1 us less
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def matches(self, raw: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.hash(raw), stored_hash)


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


# --- PKCE (RFC 7636) ---------------------------------------------------------------------------------------

_VERIFIER_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def valid_code_verifier(verifier: str) -> bool:
    """RFC 7636 §4.1: 43-128 unreserved characters."""
    return 43 <= len(verifier) <= 128 and all(c in _VERIFIER_CHARS for c in verifier)


def valid_code_challenge(challenge: str) -> bool:
    """An S256 challenge is base64url(sha256) without padding: exactly 43 characters."""
    return len(challenge) == 43 and all(c in _VERIFIER_CHARS for c in challenge)


def s256_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pkce_matches(verifier: str, challenge: str) -> bool:
    return valid_code_verifier(verifier) and hmac.compare_digest(s256_challenge(verifier), challenge)


# --- Passwords (static login mode) --------------------------------------------------------------------------

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """scrypt from the standard library; the parameters travel with the hash."""
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    enc = base64.urlsafe_b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${enc(salt).decode()}${enc(dk).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt_b64, dk_b64 = stored.split("$")
        if algo != "scrypt":
            return False
        salt = base64.urlsafe_b64decode(salt_b64)
        expected = base64.urlsafe_b64decode(dk_b64)
        dk = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(dk, expected)


def valid_password_hash(stored: str) -> bool:
    parts = stored.split("$")
    return len(parts) == 6 and parts[0] == "scrypt" and all(p.isdigit() for p in parts[1:4])
