"""Mint real tokens through the store API from outside the gateway processes (same secret key)."""

from __future__ import annotations

import asyncio
import time

from gateway import applications
from gateway.issuance import start_grant
from gateway.models import Authorization
from gateway.security import Hasher
from gateway.store.redis_store import connect
from tests.conftest import SECRET_KEY, make_settings


async def _mint(redis_url: str, scopes: list[str], user_id: str, record: bool = False) -> tuple[str, str]:
    settings = make_settings({"redis_url": redis_url})
    store = connect(redis_url)
    try:
        await store.init_scopes(settings.scopes)
        hasher = Hasher(SECRET_KEY.encode())
        reg = await applications.register(
            store,
            hasher,
            list(settings.scopes),
            {"name": "E2E", "redirect_uri": "https://e2e.example/cb", "owner": user_id},
        )
        issued = await start_grant(
            store,
            hasher,
            client_id=reg.application.client_id,
            user_id=user_id,
            scopes=scopes,
            access_ttl=3600,
            refresh_ttl=86400,
        )
        if record:  # the Authorized Applications row that consent would have written
            await store.record_authorization(
                Authorization(user_id, reg.application.client_id, tuple(sorted(scopes)), time.time())
            )
        return issued.access_token, reg.application.client_id
    finally:
        await store.close()


def mint_token(redis_url: str, scopes: list[str], user_id: str = "1001") -> str:
    return asyncio.run(_mint(redis_url, scopes, user_id))[0]


def mint_token_and_client(
    redis_url: str, scopes: list[str], user_id: str = "1001", record: bool = False
) -> tuple[str, str]:
    return asyncio.run(_mint(redis_url, scopes, user_id, record))
