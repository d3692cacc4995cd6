"""Register applications and mint tokens through the store/service API, as the authorization server does."""

from __future__ import annotations

from gateway import applications
from gateway.issuance import IssuedTokens, start_grant
from gateway.models import Application
from gateway.services import Services


async def register_app(services: Services, scopes: list[str] | None = None, owner: str = "1001") -> Application:
    fields: dict[str, object] = {"name": "Test App", "redirect_uri": "https://app.example/cb", "owner": owner}
    if scopes is not None:
        fields["scopes"] = scopes
    reg = await applications.register(services.store, services.hasher, list(services.settings.scopes), fields)
    return reg.application


async def issue(
    services: Services, app: Application, scopes: list[str], user_id: str = "1001", access_ttl: int = 3600
) -> IssuedTokens:
    return await start_grant(
        services.store,
        services.hasher,
        client_id=app.client_id,
        user_id=user_id,
        scopes=scopes,
        access_ttl=access_ttl,
        refresh_ttl=86400,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
