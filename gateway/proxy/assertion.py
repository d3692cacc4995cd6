"""Optional signed identity assertion for the upstream: a short-lived JWT (asymmetric, via PyJWT) naming the same
identity as the X-Auth-* headers, so an upstream can verify a request really came through the gateway. The public
key is served at /.well-known/jwks.json. The key comes from SCOPEGATE_ASSERTION_KEY (PEM); without it a key is made
at start-up, which suits a single process only (several processes must share one key)."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from gateway.models import Principal
from gateway.settings import AssertionSettings

_PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def _generate(algorithm: str) -> _PrivateKey:
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ed25519.Ed25519PrivateKey.generate()


class AssertionSigner:
    def __init__(self, settings: AssertionSettings, issuer: str) -> None:
        self._alg = settings.algorithm
        self._ttl = settings.ttl
        self._issuer = issuer
        self._audience = settings.audience
        self.header = settings.header
        if settings.private_key_pem:
            key = load_pem_private_key(settings.private_key_pem.encode(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
                raise ValueError("SCOPEGATE_ASSERTION_KEY must be an EC, RSA or Ed25519 private key")
            self._key: _PrivateKey = key
        else:
            self._key = _generate(self._alg)
        algo = jwt.get_algorithm_by_name(self._alg)
        jwk: dict[str, Any] = json.loads(algo.to_jwk(self._key.public_key()))
        self.kid = hashlib.sha256(json.dumps(jwk, sort_keys=True).encode()).hexdigest()[:16]
        jwk.update({"kid": self.kid, "use": "sig", "alg": self._alg})
        self.jwks = {"keys": [jwk]}

    def sign(self, principal: Principal, request_id: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": principal.user_id,
            "client_id": principal.client_id,
            "scope": " ".join(sorted(principal.scopes)),
            "iat": now,
            "exp": now + self._ttl,
            "jti": request_id,
        }
        if self._audience:
            claims["aud"] = self._audience
        return jwt.encode(claims, self._key, algorithm=self._alg, headers={"kid": self.kid})


def jwks_handler(signer: AssertionSigner) -> Any:
    body = json.dumps(signer.jwks)

    async def jwks(_: web.Request) -> web.Response:
        return web.Response(
            text=body, content_type="application/json", headers={"Cache-Control": "public, max-age=300"}
        )

    return jwks
