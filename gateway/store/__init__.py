"""The token store: Protocols per capability in `base`, key names in `keyspace`, record formats in `codec`, Lua in
`scripts`, and the Redis adapter in the package `redis` (its old address `redis_store` re-exports it)."""
