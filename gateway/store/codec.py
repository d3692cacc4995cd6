"""How records look inside Redis: compact strings and hashes, and the shared scope-bit registry.

Kept apart from the adapter (gateway/store/redis/) so the formats can be read and tested without a connection. An access
token is one short string (`grant|client|iat|exp|scope bits|user`), which keeps Redis memory near 210 bytes a token.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from gateway.models import AccessTokenRecord, Application, Grant, PendingCode


class ScopeBits:
    """scope name <-> bit index, loaded from the registry every process shares (append-only, so stable)."""

    def __init__(self) -> None:
        self._bit_of: dict[str, int] = {}
        self._scope_of: dict[int, str] = {}
        self._decoded: dict[str, frozenset[str]] = {}

    def load(self, registry: Mapping[str, str | int]) -> None:
        self._bit_of = {name: int(bit) for name, bit in registry.items()}
        self._scope_of = {bit: name for name, bit in self._bit_of.items()}
        self._decoded.clear()

    def encode(self, scopes: Iterable[str]) -> str:
        bits = 0
        for scope in scopes:
            bits |= 1 << self._bit_of[scope]
        return format(bits, "x")

    def decode(self, encoded: str) -> frozenset[str]:
        hit = self._decoded.get(encoded)
        if hit is not None:
            return hit
        bits, i, names = int(encoded, 16), 0, []
        while bits:
            if bits & 1 and i in self._scope_of:  # a bit this process's catalog does not know: not a scope here
                names.append(self._scope_of[i])
            bits >>= 1
            i += 1
        result = frozenset(names)
        if len(self._decoded) < 4096:  # few distinct scope sets exist; memoize them, boundedly
            self._decoded[encoded] = result
        return result


def app_to_fields(app: Application) -> dict[str, str]:
    return {
        "name": app.name,
        "redirect_uri": app.redirect_uri,
        "server_side": "1" if app.server_side else "0",
        "scopes": " ".join(app.scopes),
        "owner": app.owner,
        "published": "1" if app.published else "0",
        "created_at": repr(app.created_at),
        "updated_at": repr(app.updated_at),
    }


def app_from_fields(client_id: str, h: Mapping[str, str]) -> Application:
    return Application(
        client_id=client_id,
        name=h["name"],
        redirect_uri=h["redirect_uri"],
        server_side=h["server_side"] == "1",
        scopes=tuple(h["scopes"].split()),
        owner=h["owner"],
        published=h["published"] == "1",
        created_at=float(h["created_at"]),
        updated_at=float(h["updated_at"]),
        epoch=int(h.get("epoch", "0")),
    )


def grant_to_value(g: Grant, bits: ScopeBits) -> str:
    # The user id goes last: it is the one field that is not ours, so it may contain the separator.
    return "|".join(
        (
            g.client_id,
            str(g.app_epoch),
            str(g.user_app_epoch),
            str(g.user_epoch),
            str(g.created_at),
            bits.encode(g.scopes),
            g.refresh_hash,
            g.user_id,
        )
    )


def grant_from_value(grant_id: str, v: str, bits: ScopeBits) -> Grant:
    cid, ae, uae, ue, created, scope_bits, rt, uid = v.split("|", 7)
    return Grant(
        grant_id=grant_id,
        client_id=cid,
        user_id=uid,
        scopes=bits.decode(scope_bits),
        created_at=int(created),
        app_epoch=int(ae),
        user_app_epoch=int(uae),
        user_epoch=int(ue),
        refresh_hash=rt,
    )


def access_to_value(rec: AccessTokenRecord, bits: ScopeBits) -> str:
    return "|".join(
        (rec.grant_id, rec.client_id, str(rec.issued_at), str(rec.expires_at), bits.encode(rec.scopes), rec.user_id)
    )


def access_from_value(v: str, bits: ScopeBits) -> AccessTokenRecord:
    gid, cid, iat, exp, scope_bits, uid = v.split("|", 5)
    return AccessTokenRecord(
        grant_id=gid,
        client_id=cid,
        user_id=uid,
        scopes=bits.decode(scope_bits),
        issued_at=int(iat),
        expires_at=int(exp),
    )


def code_to_json(pending: PendingCode) -> str:
    return json.dumps(
        {
            "client_id": pending.client_id,
            "user_id": pending.user_id,
            "redirect_uri": pending.redirect_uri,
            "scopes": list(pending.scopes),
            "code_challenge": pending.code_challenge,
            "expires_at": pending.expires_at,
            "redirect_uri_given": pending.redirect_uri_given,
        }
    )


def code_from_json(raw: str) -> PendingCode:
    d = json.loads(raw)
    return PendingCode(
        client_id=d["client_id"],
        user_id=d["user_id"],
        redirect_uri=d["redirect_uri"],
        scopes=tuple(d["scopes"]),
        code_challenge=d["code_challenge"],
        expires_at=int(d["expires_at"]),
        redirect_uri_given=d.get("redirect_uri_given") is not False,
    )
