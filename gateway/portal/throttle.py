"""Failure throttling in fixed windows, race-free: an attempt takes its place in every window it counts against
(one INCR with expiry each) before any password or secret is compared, and is refused with the window's remaining
time when that place is past the limit. So N parallel attempts cannot all pass a check made before any of them
counted: at most `limit` of them are compared. An attempt that succeeds gives its places back.

The policy (README, Security model):
- client authentication: per source address only (`trusted_proxies` resolve it, see gateway.network). Client secrets
  are 256-bit random, so guessing is hopeless; a stranger can exhaust only their own address's budget and never
  locks a client id out for a caller presenting the right secret.
- sign-in: per (user, address) and per address (5x the limit: several people behind one NAT), plus a slower global
  per-user window (5x the limit over 10x the window) that only attempts from addresses this user has signed in
  from before (remembered 30 days) pass once it is exhausted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.services import Services

# The counter namespaces (their Redis keys must not change: a deploy would reset live windows).
LOGIN = "login_fail"
CLIENT_AUTH = "client_auth_fail"
# Where sign-in remembers (user, address) pairs that have succeeded.
KNOWN_SIGN_IN = "login_known"
KNOWN_SIGN_IN_TTL = 30 * 86400


@dataclass(frozen=True, slots=True)
class Window:
    """One counter: `key` in the throttle's namespace, at most `limit` attempts per `seconds`."""

    key: str
    limit: int
    seconds: int


@dataclass(frozen=True, slots=True)
class Throttle:
    """One kind of attempt, counted under `namespace`."""

    namespace: str

    async def take(self, services: Services, windows: Sequence[Window]) -> int | None:
        """Count this attempt in every window; seconds to wait (>= 1) when any is past its limit, else None.

        Called before the expensive check. A refused attempt keeps its places (hammering does not help, and the
        window never extends: its expiry is set by the first attempt only)."""
        store = services.store
        wait: int | None = None
        for w in windows:
            count = await store.hit_counter(self.namespace, w.key, w.seconds)
            if count > w.limit:
                _, reset = await store.counter_value(self.namespace, w.key)
                wait = max(wait or 1, reset, 1)
        return wait

    async def give_back(self, services: Services, windows: Sequence[Window]) -> None:
        """The attempt succeeded: it no longer counts (a success is not a failure)."""
        for w in windows:
            await services.store.hit_counter(self.namespace, w.key, w.seconds, amount=-1)


LOGIN_FAILURES = Throttle(LOGIN)
CLIENT_AUTH_FAILURES = Throttle(CLIENT_AUTH)


def client_auth_windows(services: Services, address: str) -> list[Window]:
    s = services.settings
    return [Window(f"a:{address}", s.client_auth_max_failures, s.client_auth_window)]


def sign_in_windows(services: Services, username: str, address: str) -> tuple[list[Window], Window]:
    """(the windows every attempt must pass, the global per-user window a known address may exceed)."""
    s = services.settings
    limit, seconds = s.client_auth_max_failures, s.client_auth_window
    user = username[:128]
    local = [Window(f"ua:{user}|{address}", limit, seconds), Window(f"a:{address}", 5 * limit, seconds)]
    return local, Window(f"u:{user}", 5 * limit, 10 * seconds)
