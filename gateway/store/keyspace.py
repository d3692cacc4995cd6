"""Every Redis key name in one place. Arguments are ids or keyed hashes, never raw secrets.

Keys that one atomic step touches together share a hash tag (`{...}`) so the same code runs on Redis Cluster:
- `{client id}`: an application, its secrets, grants set, users set, its users' consents, every grant of it (a grant
  id starts with its client id) and the user+application epochs. Issuance, refresh, application delete and
  revocation, and user+application revocation each touch only these.
- `{user id}`: a user's epoch, Authorized Applications index and last-used times (user revocation).
- `{token or code hash}`: a refresh token or code and its used-marker (single-use takes).
Access tokens are looked up by their hash alone and are written after the grant they point at.
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
    # A grant id is `<client id>.<random>` (gateway.issuance), so the grant shares its application's slot.
    cid, sep, rest = grant_id.partition(".")
    return f"{PREFIX}grant:{{{cid}}}:{rest}" if sep else f"{PREFIX}grant:{grant_id}"


def app(client_id: str) -> str:
    return f"{PREFIX}app:{{{client_id}}}"


def app_secrets(client_id: str) -> str:
    return f"{PREFIX}app:{{{client_id}}}:secrets"


def app_grants(client_id: str) -> str:
    return f"{PREFIX}app:{{{client_id}}}:grants"


def user_app_epoch(user_id: str, client_id: str) -> str:
    return f"{PREFIX}epoch:ua:{{{client_id}}}:{user_id}"


def user_epoch(user_id: str) -> str:
    return f"{PREFIX}epoch:u:{{{user_id}}}"


def app_consents(client_id: str) -> str:
    """hash: user id -> consent (the record issuance checks, in the application's slot)."""
    return f"{PREFIX}app:{{{client_id}}}:consents"


def authorizations(user_id: str) -> str:
    """hash: client id -> consent (the user's Authorized Applications index, in the user's slot)."""
    return f"{PREFIX}authz:{{{user_id}}}"


def last_used(user_id: str) -> str:
    return f"{PREFIX}authz:{{{user_id}}}:lastused"


def client_users(client_id: str) -> str:
    return f"{PREFIX}app:{{{client_id}}}:users"


def ephemeral(namespace: str, key: str) -> str:
    return f"{PREFIX}tmp:{namespace}:{key}"


def counter(namespace: str, key: str) -> str:
    return f"{PREFIX}cnt:{namespace}:{key}"
