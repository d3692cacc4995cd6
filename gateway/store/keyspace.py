"""Every Redis key name in one place. Arguments are ids or keyed hashes, never raw secrets.

Keys that one atomic step touches together share a hash tag (`{...}`) so the same code runs on Redis Cluster.
"""

from __future__ import annotations

PREFIX = "sg:"

REVOCATION_CHANNEL = PREFIX + "revocations"
SCOPE_BITS = PREFIX + "scopebits"  # hash: scope name -> bit index (append-only, shared by every process)
SCOPE_BITS_NEXT = PREFIX + "scopebits:next"
AUDIT = PREFIX + "audit"  # stream, trimmed to audit.max_entries
CLEANUP_QUEUE = PREFIX + "cleanup:apps"  # set of deleted client ids whose clean-up has not finished
APPS = PREFIX + "apps"  # set of client ids


def access_token(token_hash: str) -> str:
    return f"{PREFIX}at:{token_hash}"


def refresh_token(token_hash: str) -> str:
    return f"{PREFIX}rt:{{{token_hash}}}"


def refresh_used(token_hash: str) -> str:
    return f"{PREFIX}rtu:{{{token_hash}}}"


def code(code_hash: str) -> str:
    return f"{PREFIX}code:{{{code_hash}}}"


def code_used(code_hash: str) -> str:
    return f"{PREFIX}codeu:{{{code_hash}}}"


def grant(grant_id: str) -> str:
    return f"{PREFIX}grant:{grant_id}"


def app(client_id: str) -> str:
    return f"{PREFIX}app:{{{client_id}}}"


def app_secrets(client_id: str) -> str:
    return f"{PREFIX}app:{{{client_id}}}:secrets"


def app_grants(client_id: str) -> str:
    return f"{PREFIX}app:{{{client_id}}}:grants"


def user_app_epoch(user_id: str, client_id: str) -> str:
    return f"{PREFIX}epoch:ua:{user_id}:{client_id}"


def user_epoch(user_id: str) -> str:
    return f"{PREFIX}epoch:u:{user_id}"


def authorizations(user_id: str) -> str:
    return f"{PREFIX}authz:{{{user_id}}}"


def last_used(user_id: str) -> str:
    return f"{PREFIX}authz:{{{user_id}}}:lastused"


def client_users(client_id: str) -> str:
    return f"{PREFIX}app:{{{client_id}}}:users"


def ephemeral(namespace: str, key: str) -> str:
    return f"{PREFIX}tmp:{namespace}:{key}"


def counter(namespace: str, key: str) -> str:
    return f"{PREFIX}cnt:{namespace}:{key}"
