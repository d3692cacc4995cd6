"""The token store: Protocols in `base`, key names in `keyspace`, the Redis adapter in `redis_store`."""
