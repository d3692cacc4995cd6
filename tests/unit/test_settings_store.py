"""The store's settings: replica acknowledgement, pools, audit size, cluster URLs; every problem with its key path."""

from __future__ import annotations

import pytest

from gateway.errors import ConfigError
from gateway.services import store_options
from tests.conftest import make_settings


def test_defaults_and_values_reach_the_store() -> None:
    default = store_options(make_settings())
    assert default.min_replicas_acked is None and default.ack_timeout == 0.25 and default.pool_size == 64
    s = make_settings(
        {
            "redis": {
                "min_replicas_acked": 2,
                "ack_timeout": 0.1,
                "pool_size": 8,
                "pool_timeout": 1,
                "read_pool_size": 4,
            },
            "audit": {"max_entries": 5000},
        }
    )
    o = store_options(s)
    assert (
        o.min_replicas_acked,
        o.ack_timeout,
        o.pool_size,
        o.pool_timeout,
        o.read_pool_size,
        o.audit_max_entries,
    ) == (2, 0.1, 8, 1.0, 4, 5000)
    assert o.refresh_ttl == s.refresh_token_ttl


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"redis": {"ack_timeout": 0.5}}, "redis.ack_timeout"),  # not shorter than redis.timeout (0.5)
        ({"redis": {"min_replicas_acked": -1}}, "redis.min_replicas_acked"),
        ({"redis": {"min_replicas_acked": "some"}}, "redis.min_replicas_acked"),
        ({"redis": {"pool_size": 0}}, "redis.pool_size"),
        ({"audit": {"max_entries": 10}}, "audit.max_entries"),
        ({"redis_url": "redis+cluster://nohost"}, "redis_url"),
    ],
)
def test_bad_store_settings_name_their_key(overrides: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(overrides)
    assert path in [p.path for p in caught.value.problems]


def test_cluster_urls_are_accepted() -> None:
    assert make_settings({"redis_url": "rediss+cluster://:pw@a:7000,b:7001"}).redis_url.startswith("rediss+cluster")
