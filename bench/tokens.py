"""Mint real tokens into Redis through scopegate's own store API (same secret key as the gateways)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import yaml

from bench.servers import ROOT
from gateway import applications
from gateway.issuance import start_grant
from gateway.models import AccessTokenRecord, Grant
from gateway.security import Hasher, TokenKind, mint, well_formed
from gateway.store import codec
from gateway.store import keyspace as ks
from gateway.store.redis_store import RedisStore, connect

SCOPES = ("events:read", "contacts:read", "address_books:read", "imports:write")
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def catalog() -> list[str]:
    raw = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    return list(raw["scopes"])


@dataclass
class Minted:
    client_id: str
    grants: list[Grant]
    tokens: list[str]


class Minter:
    def __init__(self, redis_url: str, secret: str) -> None:
        self.store: RedisStore = connect(redis_url, timeout=30.0)
        self.hasher = Hasher(secret.encode("utf-8"))

    async def __aenter__(self) -> Minter:
        await self.store.init_scopes(catalog())
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.store.close()

    async def app(self, name: str) -> str:
        reg = await applications.register(
            self.store,
            self.hasher,
            catalog(),
            {"name": name, "redirect_uri": "https://bench.example/cb", "owner": "bench"},
        )
        return reg.application.client_id

    async def tokens(
        self, count: int, *, users: int = 100, scopes: tuple[str, ...] = SCOPES, ttl: int = 7200
    ) -> Minted:
        """`count` access tokens spread over `users` grants (one application)."""
        client_id = await self.app(f"bench-{secrets.token_hex(3)}")
        grants = []
        for u in range(users):
            issued = await start_grant(
                self.store,
                self.hasher,
                client_id=client_id,
                user_id=str(10_000 + u),
                scopes=scopes,
                access_ttl=ttl,
                refresh_ttl=ttl,
            )
            grants.append(issued.grant)
        now = int(time.time())
        raw = [mint(TokenKind.ACCESS) for _ in range(count)]
        items = [
            (
                self.hasher.hash(t),
                AccessTokenRecord(g.grant_id, g.client_id, g.user_id, frozenset(scopes), now, now + ttl),
            )
            for i, t in enumerate(raw)
            for g in (grants[i % len(grants)],)
        ]
        await self.store.save_access_tokens(items)
        return Minted(client_id, grants, raw)

    async def revoke(self, tokens: list[str]) -> None:
        for t in tokens:
            await self.store.revoke_access_token(self.hasher.hash(t))

    async def bulk_live_tokens(self, count: int, batch: int = 20_000) -> None:
        """`count` live access tokens (random hashes, as minting would store them), pipelined in batches."""
        now = int(time.time())
        rec = AccessTokenRecord("g" * 16, "c" * 22, "1001", frozenset(SCOPES), now, now + 86400)
        done = 0
        while done < count:
            n = min(batch, count - done)
            await self.store.save_access_tokens([(self.hasher.hash(mint(TokenKind.ACCESS)), rec) for _ in range(n)])
            done += n

    async def app_with_grants(self, grants: int, batch: int = 5_000) -> str:
        """An application with `grants` authorizations, each with its refresh token and one access token.

        Written with raw pipelines (the key layout of gateway.store) because start_grant costs several round trips
        each; the result is what 100,000 real authorizations leave in Redis.
        """
        client_id = await self.app(f"bench-del-{secrets.token_hex(3)}")
        r = self.store._r
        now = int(time.time())
        done = 0
        while done < grants:
            n = min(batch, grants - done)
            async with r.pipeline(transaction=False) as p:
                items = []
                for i in range(n):
                    uid = str(100_000 + done + i)
                    refresh_hash = self.hasher.hash(mint(TokenKind.REFRESH))
                    g = Grant(
                        grant_id=f"{client_id}.{secrets.token_hex(8)}",
                        client_id=client_id,
                        user_id=uid,
                        scopes=frozenset(SCOPES),
                        created_at=now,
                        app_epoch=0,
                        user_app_epoch=0,
                        user_epoch=0,
                        refresh_hash=refresh_hash,
                    )
                    p.set(ks.grant(g.grant_id), codec.grant_to_value(g, self.store.scope_bits), ex=86400)
                    p.sadd(ks.app_grants(client_id), g.grant_id)
                    p.set(ks.refresh_token(refresh_hash), f"{g.grant_id}|{now + 86400}", ex=86400)
                    p.hset(ks.authorizations(uid), client_id, '{"scopes":[],"authorized_at":0}')
                    p.hset(ks.app_consents(client_id), uid, '{"scopes":[],"authorized_at":0}')
                    p.sadd(ks.client_users(client_id), uid)
                    items.append(
                        (
                            self.hasher.hash(mint(TokenKind.ACCESS)),
                            AccessTokenRecord(g.grant_id, client_id, uid, frozenset(SCOPES), now, now + 3600),
                        )
                    )
                await p.execute()
            await self.store.save_access_tokens(items)
            done += n
        return client_id


def bad_checksum(token: str) -> str:
    """The same token with its last checksum character changed: rejected without any store lookup."""
    last = token[-1]
    out = token[:-1] + _ALNUM[(_ALNUM.index(last) + 1) % len(_ALNUM)]
    assert not well_formed(out, TokenKind.ACCESS)
    return out
