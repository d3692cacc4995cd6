"""Failure throttling in fixed windows: sign-in (per username and per address) and client authentication (per
client and per address) count failures the same way. Past `client_auth_max_failures` in one window of
`client_auth_window` seconds, every attempt is refused before any password or secret is compared."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.services import Services

# The counter namespaces (their Redis keys must not change: a deploy would reset live windows).
LOGIN = "login_fail"
CLIENT_AUTH = "client_auth_fail"


@dataclass(frozen=True, slots=True)
class Throttle:
    """One kind of failure, counted under `namespace` for each of the keys an attempt names."""

    namespace: str

    async def retry_after(self, services: Services, keys: Sequence[str]) -> int | None:
        """Seconds to wait when any key is over the limit (at least 1), else None."""
        limit = services.settings.client_auth_max_failures
        for key in keys:
            count, reset = await services.store.counter_value(self.namespace, key)
            if count >= limit:
                return max(reset, 1)
        return None

    async def failed(self, services: Services, keys: Sequence[str]) -> None:
        """Count one failure against every key."""
        for key in keys:
            await services.store.hit_counter(self.namespace, key, services.settings.client_auth_window)


LOGIN_FAILURES = Throttle(LOGIN)
CLIENT_AUTH_FAILURES = Throttle(CLIENT_AUTH)
