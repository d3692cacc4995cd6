"""Admin API fixtures: the public gateway and the admin application sharing one Services on a real Redis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from admin.app import build_admin_app
from gateway.issuance import IssuedTokens, start_grant
from gateway.services import Services
from tests.conftest import ADMIN_TOKEN, EchoUpstream, GatewayFactory

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NEW_APP = {"name": "Acme Scheduler", "redirect_uri": "https://acme.example/oauth/callback", "owner": "1001"}


@dataclass
class AdminEnv:
    admin: TestClient[Any, Any]  # the admin listener
    public: TestClient[Any, Any]  # the public listener (proxy to the echo upstream)
    services: Services

    async def create(self, **fields: Any) -> dict[str, Any]:
        resp = await self.admin.post("/admin/applications", json={**NEW_APP, **fields}, headers=AUTH)
        assert resp.status == 201, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body

    async def token(
        self, client_id: str, user_id: str = "1001", scopes: tuple[str, ...] = ("events:read",)
    ) -> IssuedTokens:
        return await start_grant(
            self.services.store,
            self.services.hasher,
            client_id=client_id,
            user_id=user_id,
            scopes=scopes,
            access_ttl=3600,
            refresh_ttl=86400,
        )

    async def call(self, token: str, path: str = "/v1/events") -> Any:
        return await self.public.get(path, headers={"Authorization": f"Bearer {token}"})


AdminFactory = Any


@pytest.fixture
async def make_admin(
    make_gateway: GatewayFactory, echo_upstream: EchoUpstream, redis_url: str, aiohttp_client: Any
) -> AdminFactory:
    async def factory(env: dict[str, str] | None = None, **overrides: Any) -> AdminEnv:
        public, services = await make_gateway(echo_upstream.url, redis_url=redis_url, env=env, **overrides)
        admin = await aiohttp_client(build_admin_app(services))
        return AdminEnv(admin, public, services)

    return factory


@pytest.fixture
async def env(make_admin: AdminFactory) -> AdminEnv:
    result: AdminEnv = await make_admin()
    return result
