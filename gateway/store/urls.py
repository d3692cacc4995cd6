"""Redis URL forms that redis-py does not parse itself."""

from __future__ import annotations


def sentinel_url_problem(url: str) -> str | None:
    """`redis+sentinel://[:password@]host:port[,host:port...]/service[/db]`: None when well-formed."""
    try:
        parse_sentinel_url(url)
    except ValueError as exc:
        return str(exc)
    return None


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str, int, str | None]:
    rest = url.removeprefix("redis+sentinel://")
    password = None
    if "@" in rest:
        creds, rest = rest.rsplit("@", 1)
        password = creds.split(":", 1)[-1] or None
    hosts_part, _, path = rest.partition("/")
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise ValueError("needs the monitored service name: redis+sentinel://host:26379/mymaster[/db]")
    hosts: list[tuple[str, int]] = []
    for item in hosts_part.split(","):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"sentinel address {item!r} must be host:port")
        hosts.append((host, int(port)))
    db = parts[1] if len(parts) > 1 else "0"
    if not db.isdigit():
        raise ValueError(f"database {db!r} must be a number")
    return hosts, parts[0], int(db), password


CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


def cluster_url_problem(url: str) -> str | None:
    """`redis+cluster://[[user]:password@]host:port[,host:port...]` (or `rediss+cluster://`): None when
    well-formed."""
    try:
        parse_cluster_url(url)
    except ValueError as exc:
        return str(exc)
    return None


def parse_cluster_url(url: str) -> tuple[list[tuple[str, int]], bool, str | None, str | None]:
    """(startup nodes, TLS, username, password)."""
    tls = url.startswith("rediss+cluster://")
    rest = url.split("://", 1)[1]
    username = password = None
    if "@" in rest:
        creds, rest = rest.rsplit("@", 1)
        user, _, pw = creds.rpartition(":")
        username, password = user or None, pw or None
    rest = rest.rstrip("/")
    if "/" in rest:
        raise ValueError("a Redis Cluster has one database: no /db path (redis+cluster://host:port[,host:port])")
    nodes: list[tuple[str, int]] = []
    for item in rest.split(","):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"cluster node address {item!r} must be host:port")
        nodes.append((host, int(port)))
    return nodes, tls, username, password
