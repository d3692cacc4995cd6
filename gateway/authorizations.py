"""A user's authorizations of applications: listing and revoking them, for Authorized Applications (the user) and
the admin API (on anyone's behalf), with the same side effects whoever asks: one epoch bump and one published
message in the store, this process's cache dropped at once, and one audit event."""

from __future__ import annotations

from gateway import audit
from gateway.audit import Actor, AuditAction
from gateway.events import ApplicationChanged, UserApplicationRevoked, UserRevoked
from gateway.models import Application, Authorization
from gateway.services import Services


class AuthorizationService:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def list(self, user_id: str) -> list[tuple[Authorization, Application | None]]:
        """The user's authorizations with their application (None: deleted, its row is being cleaned up)."""
        store = self._services.store
        return [(auth, await store.get_app(auth.client_id)) for auth in await store.list_authorizations(user_id)]

    async def revoke(self, actor: Actor, user_id: str, client_id: str) -> bool:
        """End the user's authorization of the application: every token it holds for them stops at once. Revokes
        unconditionally (a token must not outlive a revoke even if its consent row is gone) and says whether there
        was an authorization to remove."""
        removed = await self._services.store.revoke_user_app(user_id, client_id)
        self._services.validator.invalidate(UserApplicationRevoked(user_id, client_id))
        await audit.record(
            self._services,
            actor,
            AuditAction.AUTHORIZATION_REVOKED,
            user_id=user_id,
            client_id=client_id,
            had_authorization=removed,
        )
        return removed

    async def revoke_user(self, user_id: str) -> int:
        """Every authorization of the user (bulk); the number of applications it removed."""
        apps = await self._services.store.revoke_user(user_id)
        self._services.validator.invalidate(UserRevoked(user_id))
        return apps

    async def revoke_client(self, client_id: str) -> int:
        """Every user's authorization of the application (bulk); the number of users it removed."""
        users = await self._services.store.revoke_client(client_id)
        self._services.validator.invalidate(ApplicationChanged(client_id))
        return users

    async def revoke_user_application(self, user_id: str, client_id: str) -> bool:
        """The bulk form of `revoke` (audited by its caller as one bulk revocation)."""
        removed = await self._services.store.revoke_user_app(user_id, client_id)
        self._services.validator.invalidate(UserApplicationRevoked(user_id, client_id))
        return removed
