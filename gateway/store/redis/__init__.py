"""The Redis adapter: the only code that imports redis. One module per capability of `gateway.store.base`, all on
one `Connection` (client.py: connection, the error-mapping table, the GET batcher).

`RedisStore` composes the capability objects into the one `Store` the composition root builds; the embedded
`memory://` store is the same code on fakeredis (see `client.open_connection`).
"""

from __future__ import annotations

from gateway.store.options import StoreOptions
from gateway.store.redis.applications import RedisApplications
from gateway.store.redis.audit import RedisAuditLog
from gateway.store.redis.authorizations import RedisUserAuthorizations
from gateway.store.redis.client import Connection, open_connection
from gateway.store.redis.codes import RedisAuthorizationCodes
from gateway.store.redis.ephemeral import RedisCounters, RedisEphemeralRecords
from gateway.store.redis.revocations import RedisRevocationBus
from gateway.store.redis.tokens import RedisTokens

__all__ = ["RedisStore", "connect"]


class RedisStore:
    """Every capability on one Redis: each is an object of its own (`applications`, `tokens`, ...), and their
    methods are also this object's, so one `Store` can be handed out and each consumer sees the Protocol it needs."""

    def __init__(self, conn: Connection) -> None:
        self._r = conn.r  # the raw client, for the benchmark's bulk loader
        self.scope_bits = conn.scope_bits

        self.revocations = bus = RedisRevocationBus(conn)
        self.tokens = tokens = RedisTokens(conn, bus)
        self.authorizations = authz = RedisUserAuthorizations(conn, bus)
        self.applications = apps = RedisApplications(conn, bus, tokens, authz)
        self.codes = codes = RedisAuthorizationCodes(conn)
        self.ephemeral = eph = RedisEphemeralRecords(conn)
        self.counters = counters = RedisCounters(conn)
        self.audit = audit = RedisAuditLog(conn)

        # StoreLifecycle
        self.close = conn.close
        self.ping = conn.ping
        self.detect_replicas = conn.detect_replicas
        self.connection = conn
        self.init_scopes = conn.init_scopes
        # ApplicationRegistry
        self.create_app = apps.create_app
        self.get_app = apps.get_app
        self.list_apps = apps.list_apps
        self.update_app = apps.update_app
        self.delete_app = apps.delete_app
        self.cleanup_app = apps.cleanup_app
        self.pending_cleanups = apps.pending_cleanups
        self.app_state = apps.app_state
        self.secret_hashes = apps.secret_hashes
        self.rotate_secret = apps.rotate_secret
        self.delete_secrets = apps.delete_secrets
        # TokenStore, and TokenReader's reads
        self.current_epochs_for = tokens.current_epochs_for
        self.start_issued = tokens.start_issued
        self.continue_issued = tokens.continue_issued
        self.save_grant = tokens.save_grant
        self.get_grant = tokens.get_grant
        self.revoke_grant = tokens.revoke_grant
        self.save_access_token = tokens.save_access_token
        self.save_access_tokens = tokens.save_access_tokens
        self.get_access_token = tokens.get_access_token
        self.validation_facts = tokens.validation_facts
        self.revoke_access_token = tokens.revoke_access_token
        self.save_refresh_token = tokens.save_refresh_token
        self.get_refresh_token = tokens.get_refresh_token
        self.consume_refresh_token = tokens.consume_refresh_token
        # AuthorizationCodes
        self.save_code = codes.save_code
        self.redeem_code = codes.redeem_code
        self.mark_code_grant = codes.mark_code_grant
        self.code_replay_grant = codes.code_replay_grant
        # UserAuthorizations
        self.record_authorization = authz.record_authorization
        self.list_authorizations = authz.list_authorizations
        self.get_authorization = authz.get_authorization
        self.touch_last_used = authz.touch_last_used
        self.revoke_user_app = authz.revoke_user_app
        self.revoke_user = authz.revoke_user
        self.revoke_client = authz.revoke_client
        # EphemeralRecords, Counters
        self.put_ephemeral = eph.put_ephemeral
        self.get_ephemeral = eph.get_ephemeral
        self.take_ephemeral = eph.take_ephemeral
        self.delete_ephemeral = eph.delete_ephemeral
        self.hit_counter = counters.hit_counter
        self.counter_value = counters.counter_value
        # AuditLog
        self.append_audit = audit.append_audit
        self.read_audit = audit.read_audit
        # RevocationBus, and TokenReader's subscription
        self.publish = bus.publish
        self.listen_revocations = bus.listen_revocations


def connect(
    redis_url: str, *, timeout: float = 0.5, max_connections: int = 64, options: StoreOptions | None = None
) -> RedisStore:
    """A store for `redis_url`: redis://, rediss://, unix://, redis+sentinel://, or memory:// (embedded)."""
    return RedisStore(open_connection(redis_url, timeout=timeout, max_connections=max_connections, options=options))
