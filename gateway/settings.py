"""Configuration: YAML + environment -> frozen, fully validated settings. Loaded once; a bad file never starts.

Every problem is reported at once with its key path (`routes[3].scope`) and line. Unknown keys are errors (a typo in a
security setting must fail). Secrets (SCOPEGATE_SECRET_KEY, SCOPEGATE_ADMIN_TOKEN, SCOPEGATE_ASSERTION_KEY) come from
the environment only.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from gateway.errors import ConfigError, ConfigProblem
from gateway.routespec import METHODS, Route, find_ties, parse_template
from gateway.security import valid_password_hash
from gateway.store.urls import CLUSTER_SCHEMES, cluster_url_problem, sentinel_url_problem

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SCOPE_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:.-")


@dataclass(frozen=True)
class StaticUser:
    username: str
    password_hash: str
    user_id: str


@dataclass(frozen=True)
class LoginSettings:
    mode: str = "static"  # static | trusted_header | upstream_session
    users: tuple[StaticUser, ...] = ()
    header: str = "X-Authenticated-User"
    trusted_proxies: tuple[IPNetwork, ...] = ()
    session_url: str = ""  # upstream_session: who is logged in (200 + JSON)
    login_url: str = ""  # upstream_session: where to send a browser that is not
    return_param: str = "return_to"
    user_id_field: str = "user_id"
    account_id_field: str = "account_id"  # upstream_session: the account the user acts for, when the response has it
    session_ttl: int = 8 * 3600


@dataclass(frozen=True)
class AssertionSettings:
    enabled: bool = False
    algorithm: str = "ES256"
    ttl: int = 60
    header: str = "X-Auth-Assertion"
    audience: str = ""
    private_key_pem: str = ""  # from SCOPEGATE_ASSERTION_KEY; generated per start when empty


@dataclass(frozen=True)
class Settings:
    source: str
    listen_host: str
    listen_port: int
    admin_host: str
    admin_port: int
    public_url: str
    upstream: str
    redis_url: str
    scopes: Mapping[str, str]
    routes: tuple[Route, ...]
    scope_aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # ("*",) = every ticked scope
    login: LoginSettings = LoginSettings()
    basic_auth: str = "passthrough"  # passthrough | reject
    trusted_proxies: tuple[IPNetwork, ...] = ()
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 30 * 86400
    code_ttl: int = 60
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    client_idle_timeout: float = 5.0  # a connection must deliver a complete request head within this of going idle
    max_body: int = 10 * 1024 * 1024
    redis_timeout: float = 0.5
    # No proof within this that the revocation subscription delivers (redis.subscription_timeout): caches untrusted.
    redis_subscription_timeout: float = 1.0
    redis_pool_size: int = 64
    redis_pool_timeout: float = 0.5
    redis_read_pool_size: int = 32
    redis_min_replicas_acked: int | None = None  # None: automatic (1 once the primary reports a replica)
    redis_ack_timeout: float = 0.25
    audit_max_entries: int = 1_000_000
    cache_enabled: bool = True
    cache_max_entries: int = 100_000
    cache_max_age: float = 60.0
    secret_grace_period: int = 0
    client_auth_max_failures: int = 10
    client_auth_window: int = 60
    access_log: bool = True
    demo_upstream: bool = False
    assertion: AssertionSettings = AssertionSettings()
    secret_key: bytes = b""
    secret_key_generated: bool = False
    admin_tokens: tuple[str, ...] = ()
    realm: str = "scopegate"
    metrics_host: str = ""  # metrics_listen: a listener serving only GET /metrics; "" = off
    metrics_port: int = 0

    @property
    def metrics_enabled(self) -> bool:
        return bool(self.metrics_host)

    @cached_property  # derived from public_url once, not per request
    def public_host(self) -> str:
        """host[:port] of public_url: the forwarded host of a request that named none (HTTP/1.0)."""
        return urlsplit(self.public_url).netloc

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @cached_property  # derived from public_url once, not per request
    def issuer(self) -> str:
        return self.public_url.rstrip("/")

    @cached_property  # derived from public_url once, not per request
    def resource_metadata_path(self) -> str:
        """RFC 9728 §3.1: the well-known name inserted between the host and the path of the resource
        (`public_url`)."""
        return "/.well-known/oauth-protected-resource" + urlsplit(self.public_url).path.rstrip("/")

    @cached_property  # derived from public_url once, not per request
    def resource_metadata_url(self) -> str:
        """The protected resource metadata document that every 401/403 challenge names (`resource_metadata`)."""
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}{self.resource_metadata_path}"


# --- YAML with line numbers ---------------------------------------------------------------------------------


def _compose(text: str, source: str) -> tuple[Any, dict[str, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([ConfigProblem("", f"not valid YAML: {exc}", line)], source) from exc
    lines: dict[str, int] = {}
    if node is None:
        return {}, lines
    return _to_python(node, "", lines), lines


def _to_python(node: yaml.Node, path: str, lines: dict[str, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            sub = f"{path}.{key}" if path else str(key)
            lines[sub] = key_node.start_mark.line + 1
            out[key] = _to_python(value_node, sub, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, f"{path}[{i}]", lines) for i, v in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    # A fresh constructor per scalar keeps YAML's own typing rules (ints, bools, null) for each value.
    return yaml.SafeLoader("").construct_object(node, deep=True)


class _Checker:
    """Collects every problem, each with its key path and line."""

    def __init__(self, lines: dict[str, int]) -> None:
        self.lines = lines
        self.problems: list[ConfigProblem] = []

    def bad(self, path: str, message: str) -> None:
        # A missing key has no line of its own: report the line of the nearest enclosing key.
        where = path
        line = self.lines.get(where)
        while line is None and where:
            parent = where.rsplit(".", 1)[0] if "." in where else where.split("[", 1)[0]
            if parent == where:
                break
            where = parent
            line = self.lines.get(where)
        self.problems.append(ConfigProblem(path, message, line))

    def mapping(self, value: Any, path: str, allowed: set[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.bad(path, "must be a mapping")
            return {}
        for key in value:
            if key not in allowed:
                hint = _closest(str(key), allowed)
                self.bad(
                    f"{path}.{key}" if path else str(key), f"unknown key{f' (did you mean {hint!r}?)' if hint else ''}"
                )
        return value

    def string(self, d: dict[str, Any], key: str, path: str, default: str | None = None) -> str:
        v = d.get(key, default)
        if v is None:
            self.bad(_join(path, key), "is required")
            return ""
        if not isinstance(v, str):
            self.bad(_join(path, key), "must be a string")
            return ""
        return v

    def number(self, d: dict[str, Any], key: str, path: str, default: float, *, minimum: float = 0) -> float:
        v = d.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int | float) or v < minimum:
            self.bad(_join(path, key), f"must be a number >= {minimum}")
            return default
        return float(v)

    def boolean(self, d: dict[str, Any], key: str, path: str, default: bool) -> bool:
        v = d.get(key, default)
        if not isinstance(v, bool):
            self.bad(_join(path, key), "must be true or false")
            return default
        return v

    def networks(self, v: Any, path: str) -> tuple[IPNetwork, ...]:
        if v is None:
            return ()
        if not isinstance(v, list):
            self.bad(path, "must be a list of addresses or CIDR ranges")
            return ()
        out = []
        for i, item in enumerate(v):
            try:
                out.append(ipaddress.ip_network(str(item), strict=False))
            except ValueError:
                self.bad(f"{path}[{i}]", f"{item!r} is not an IP address or CIDR range")
        return tuple(out)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _closest(word: str, options: set[str]) -> str | None:
    import difflib

    hits = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.75)
    return hits[0] if hits else None


def _unknown_scopes(unknown: list[str], scopes: Mapping[str, str]) -> str:
    """`unknown scope(s): event:read (did you mean 'events:read'?)`, a hint per name that is close to a real one."""
    names = set(scopes)
    parts = []
    for name in unknown:
        hint = _closest(name, names)
        parts.append(f"{name} (did you mean {hint!r}?)" if hint else name)
    return f"unknown scope(s): {', '.join(parts)}"


def _hostport(c: _Checker, value: str, path: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        c.bad(path, f"{value!r} must be host:port")
        return "127.0.0.1", 0
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - an empty host means every interface


def _http_url(c: _Checker, value: str, path: str, *, allow_path: bool = True) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        c.bad(path, f"{value!r} must be an absolute http(s) URL")
    elif parts.query or parts.fragment or parts.username or parts.password:
        c.bad(path, f"{value!r} must not carry a query, fragment or credentials")
    elif not allow_path and parts.path not in ("", "/"):
        c.bad(path, f"{value!r} must not have a path")
    return value.rstrip("/")


_TOP = {
    "listen",
    "admin_listen",
    "public_url",
    "upstream",
    "redis_url",
    "scopes",
    "scope_aliases",
    "routes",
    "login",
    "basic_auth",
    "trusted_proxies",
    "tokens",
    "upstream_timeouts",
    "max_body",
    "redis",
    "cache",
    "admin",
    "access_log",
    "demo_upstream",
    "assertion",
    "client_auth",
    "realm",
    "client_timeouts",
    "metrics_listen",
    "audit",
}

# Every environment variable the settings read (the CLI reads SCOPEGATE_CONFIG, SCOPEGATE_LOG_LEVEL and
# SCOPEGATE_WORKER too); the deploy examples are checked against this list (tests/unit/test_deploy_examples.py).
ENV_OVERRIDES = (
    ("listen", "SCOPEGATE_LISTEN"),
    ("admin_listen", "SCOPEGATE_ADMIN_LISTEN"),
    ("metrics_listen", "SCOPEGATE_METRICS_LISTEN"),
    ("public_url", "SCOPEGATE_PUBLIC_URL"),
    ("upstream", "SCOPEGATE_UPSTREAM"),
    ("redis_url", "SCOPEGATE_REDIS_URL"),
)
SECRET_ENV = ("SCOPEGATE_SECRET_KEY", "SCOPEGATE_ADMIN_TOKEN", "SCOPEGATE_ASSERTION_KEY")


def load_settings(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read, override from the environment, validate everything. Raises ConfigError listing every problem."""
    env = os.environ if env is None else env
    source = str(path or env.get("SCOPEGATE_CONFIG", ""))
    if not source:
        raise ConfigError([ConfigProblem("", "no configuration file (use --config FILE or SCOPEGATE_CONFIG)")])
    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem("", f"cannot read {source}: {exc.strerror}")], source) from exc
    raw, lines = _compose(text, source)
    return build_settings(raw, lines, env, source)


def build_settings(raw: Any, lines: dict[str, int], env: Mapping[str, str], source: str = "") -> Settings:
    c = _Checker(lines)
    top = c.mapping(raw, "", _TOP)
    for key, env_name in ENV_OVERRIDES:
        if env.get(env_name):
            top = {**top, key: env[env_name]}

    listen_host, listen_port = _hostport(c, c.string(top, "listen", "", "0.0.0.0:8080"), "listen")
    admin_host, admin_port = _hostport(c, c.string(top, "admin_listen", "", "127.0.0.1:8081"), "admin_listen")
    metrics_host, metrics_port = "", 0
    metrics_listen = c.string(top, "metrics_listen", "", "")
    if metrics_listen:
        metrics_host, metrics_port = _hostport(c, metrics_listen, "metrics_listen")
        if metrics_port and metrics_port in (listen_port, admin_port):
            c.bad("metrics_listen", f"port {metrics_port} is already the public or admin listener's")
    public_url = _http_url(c, c.string(top, "public_url", ""), "public_url", allow_path=False)
    demo_upstream = c.boolean(top, "demo_upstream", "", False)
    upstream = _http_url(
        c, c.string(top, "upstream", "", "http://127.0.0.1:9000" if demo_upstream else None), "upstream"
    )
    redis_url = c.string(top, "redis_url", "")
    if redis_url.startswith("redis+sentinel://"):
        problem = sentinel_url_problem(redis_url)
        if problem:
            c.bad("redis_url", problem)
    elif redis_url.startswith(CLUSTER_SCHEMES):
        problem = cluster_url_problem(redis_url)
        if problem:
            c.bad("redis_url", problem)
    elif redis_url and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix", "memory"):
        c.bad(
            "redis_url",
            f"{redis_url!r} must be a redis://, rediss://, unix://, redis+sentinel://, "
            "redis+cluster://, rediss+cluster:// or memory:// URL",
        )

    scopes = _scopes(c, top.get("scopes"))
    aliases = _aliases(c, top.get("scope_aliases"), scopes)
    routes = _routes(c, top.get("routes"), scopes)
    login = _login(c, top.get("login"))

    basic_auth = c.string(top, "basic_auth", "", "passthrough")
    if basic_auth not in ("passthrough", "reject"):
        c.bad("basic_auth", "must be 'passthrough' or 'reject'")

    tokens = c.mapping(top.get("tokens"), "tokens", {"access_ttl", "refresh_ttl", "code_ttl"})
    code_ttl = int(c.number(tokens, "code_ttl", "tokens", 60, minimum=1))
    if code_ttl > 60:
        c.bad("tokens.code_ttl", "authorization codes live at most 60 seconds")
    timeouts = c.mapping(top.get("upstream_timeouts"), "upstream_timeouts", {"connect", "read"})
    redis_cfg = c.mapping(
        top.get("redis"),
        "redis",
        {
            "timeout",
            "pool_size",
            "pool_timeout",
            "read_pool_size",
            "min_replicas_acked",
            "ack_timeout",
            "subscription_timeout",
        },
    )
    redis_timeout = c.number(redis_cfg, "timeout", "redis", 0.5)
    ack_timeout = c.number(redis_cfg, "ack_timeout", "redis", min(0.25, redis_timeout / 2))
    if ack_timeout >= redis_timeout:
        c.bad(
            "redis.ack_timeout",
            f"must be shorter than redis.timeout ({redis_timeout:g} s), the socket timeout that WAIT runs under",
        )
    min_acked_raw = redis_cfg.get("min_replicas_acked", "auto")
    min_acked: int | None = None
    if min_acked_raw != "auto":
        if isinstance(min_acked_raw, bool) or not isinstance(min_acked_raw, int) or min_acked_raw < 0:
            c.bad("redis.min_replicas_acked", "must be 'auto' or a whole number >= 0")
        else:
            min_acked = min_acked_raw
    pool_size = int(c.number(redis_cfg, "pool_size", "redis", 64, minimum=1))
    pool_timeout = c.number(redis_cfg, "pool_timeout", "redis", 0.5)
    read_pool_size = int(c.number(redis_cfg, "read_pool_size", "redis", 32, minimum=1))
    audit_cfg = c.mapping(top.get("audit"), "audit", {"max_entries"})
    audit_max_entries = int(c.number(audit_cfg, "max_entries", "audit", 1_000_000, minimum=1000))
    client_timeouts = c.mapping(top.get("client_timeouts"), "client_timeouts", {"idle"})
    cache = c.mapping(top.get("cache"), "cache", {"enabled", "max_entries", "max_age"})
    admin = c.mapping(top.get("admin"), "admin", {"secret_grace_period"})
    client_auth = c.mapping(top.get("client_auth"), "client_auth", {"max_failures", "window"})
    assertion = _assertion(c, top.get("assertion"), env)

    secret_key_text = env.get("SCOPEGATE_SECRET_KEY", "")
    generated = False
    if not secret_key_text:
        if redis_url.startswith("memory://"):
            # The embedded store lives and dies with the process, so a per-start key loses nothing.
            secret_key_text, generated = secrets.token_urlsafe(32), True
        else:
            c.bad("SCOPEGATE_SECRET_KEY", "must be set in the environment (at least 32 characters)")
    elif len(secret_key_text) < 32:
        c.bad("SCOPEGATE_SECRET_KEY", "must be at least 32 characters")
    admin_tokens = tuple(t.strip() for t in env.get("SCOPEGATE_ADMIN_TOKEN", "").split(",") if t.strip())
    for i, t in enumerate(admin_tokens):
        if len(t) < 16:
            c.bad(f"SCOPEGATE_ADMIN_TOKEN[{i}]", "each admin token must be at least 16 characters")

    settings = Settings(  # built first: the numbers read here are checked too, and reported with the rest
        source=source,
        listen_host=listen_host,
        listen_port=listen_port,
        admin_host=admin_host,
        admin_port=admin_port,
        public_url=public_url,
        upstream=upstream,
        redis_url=redis_url,
        scopes=scopes,
        scope_aliases=aliases,
        routes=routes,
        login=login,
        basic_auth=basic_auth,
        trusted_proxies=c.networks(top.get("trusted_proxies"), "trusted_proxies"),
        access_token_ttl=int(c.number(tokens, "access_ttl", "tokens", 3600, minimum=1)),
        refresh_token_ttl=int(c.number(tokens, "refresh_ttl", "tokens", 30 * 86400, minimum=1)),
        code_ttl=code_ttl,
        connect_timeout=c.number(timeouts, "connect", "upstream_timeouts", 5.0),
        read_timeout=c.number(timeouts, "read", "upstream_timeouts", 30.0),
        client_idle_timeout=c.number(client_timeouts, "idle", "client_timeouts", 5.0, minimum=0.1),
        max_body=int(c.number(top, "max_body", "", 10 * 1024 * 1024)),
        redis_timeout=redis_timeout,
        redis_pool_size=pool_size,
        redis_pool_timeout=pool_timeout,
        redis_read_pool_size=read_pool_size,
        redis_min_replicas_acked=min_acked,
        redis_ack_timeout=ack_timeout,
        audit_max_entries=audit_max_entries,
        redis_subscription_timeout=c.number(redis_cfg, "subscription_timeout", "redis", 1.0, minimum=0.05),
        cache_enabled=c.boolean(cache, "enabled", "cache", True),
        cache_max_entries=int(c.number(cache, "max_entries", "cache", 100_000, minimum=1)),
        cache_max_age=c.number(cache, "max_age", "cache", 60.0),
        secret_grace_period=int(c.number(admin, "secret_grace_period", "admin", 0)),
        client_auth_max_failures=int(c.number(client_auth, "max_failures", "client_auth", 10, minimum=1)),
        client_auth_window=int(c.number(client_auth, "window", "client_auth", 60, minimum=1)),
        access_log=c.boolean(top, "access_log", "", True),
        demo_upstream=demo_upstream,
        assertion=assertion,
        secret_key=secret_key_text.encode("utf-8"),
        secret_key_generated=generated,
        admin_tokens=admin_tokens,
        realm=c.string(top, "realm", "", "scopegate"),
        metrics_host=metrics_host,
        metrics_port=metrics_port,
    )
    if c.problems:
        raise ConfigError(c.problems, source)
    return settings


def _scopes(c: _Checker, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        c.bad("scopes", "must be a non-empty mapping of scope name -> description")
        return {}
    out: dict[str, str] = {}
    for name, desc in value.items():
        if not isinstance(name, str) or not name or not set(name) <= _SCOPE_NAME_CHARS:
            c.bad(f"scopes.{name}", "a scope name uses letters, digits and _ : . - only")
        elif not isinstance(desc, str) or not desc.strip():
            c.bad(f"scopes.{name}", "needs a description (users see it on the consent page)")
        else:
            out[name] = desc.strip()
    return out


def _aliases(c: _Checker, value: Any, scopes: dict[str, str]) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        c.bad("scope_aliases", "must be a mapping alias -> '*' or a list of scopes")
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for alias, target in value.items():
        path = f"scope_aliases.{alias}"
        if alias in scopes:
            c.bad(path, "an alias cannot have the name of a scope")
        elif target == "*":
            out[str(alias)] = ("*",)
        elif isinstance(target, list) and target and all(isinstance(t, str) for t in target):
            unknown = [t for t in target if t not in scopes]
            if unknown:
                c.bad(path, _unknown_scopes(unknown, scopes))
            else:
                out[str(alias)] = tuple(target)
        else:
            c.bad(path, "must be '*' (every scope ticked on the application) or a list of scopes")
    return out


def _routes(c: _Checker, value: Any, scopes: dict[str, str]) -> tuple[Route, ...]:
    if not isinstance(value, list) or not value:
        c.bad("routes", "must be a non-empty list of routes")
        return ()
    routes: list[Route] = []
    indexes: list[int] = []
    ids: dict[str, int] = {}
    for i, item in enumerate(value):
        p = f"routes[{i}]"
        d = c.mapping(item, p, {"id", "methods", "path", "scope", "public", "max_body"})
        if not d:
            if item is not None and isinstance(item, dict):
                c.bad(p, "is empty")
            continue
        ok = True
        path = d.get("path")
        if not isinstance(path, str):
            c.bad(f"{p}.path", "is required (a string such as /v1/events)")
            ok = False
        else:
            _, err = parse_template(path)
            if err:
                c.bad(f"{p}.path", err)
                ok = False
        methods = d.get("methods")
        if not isinstance(methods, list) or not methods or not all(isinstance(m, str) for m in methods):
            c.bad(f"{p}.methods", "is required (a list such as [GET, POST])")
            ok = False
            methods = []
        for j, m in enumerate(methods):
            if m == "HEAD":
                c.bad(f"{p}.methods[{j}]", "HEAD is governed by the GET rule; list GET instead")
                ok = False
            elif m not in METHODS:
                c.bad(f"{p}.methods[{j}]", f"{m!r} is not one of {', '.join(sorted(METHODS))}")
                ok = False
        public = d.get("public", False)
        if not isinstance(public, bool):
            c.bad(f"{p}.public", "must be true or false")
            ok, public = False, False
        raw_scope = d.get("scope")
        route_scopes: tuple[str, ...] = ()
        if public and raw_scope is not None:
            c.bad(f"{p}.scope", "a public route has no scope")
            ok = False
        elif not public:
            if isinstance(raw_scope, str):
                route_scopes = (raw_scope,)
            elif isinstance(raw_scope, list) and raw_scope and all(isinstance(s, str) for s in raw_scope):
                route_scopes = tuple(raw_scope)
            else:
                c.bad(f"{p}.scope", "is required (a scope, a list of scopes, or public: true)")
                ok = False
            unknown = [s for s in route_scopes if s not in scopes]
            if unknown:
                c.bad(f"{p}.scope", _unknown_scopes(unknown, scopes))
                ok = False
        max_body = d.get("max_body")
        if max_body is not None and (isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 0):
            c.bad(f"{p}.max_body", "must be a number of bytes")
            ok = False
        rid = d.get("id")
        if rid is not None and not isinstance(rid, str):
            c.bad(f"{p}.id", "must be a string")
            ok = False
        rid = rid or f"{'+'.join(methods)} {path}"
        if rid in ids:
            c.bad(f"{p}.id", f"duplicate route id {rid!r} (also routes[{ids[rid]}])")
            ok = False
        ids[rid] = i
        if ok:
            routes.append(Route(str(rid), frozenset(methods), str(path), route_scopes, bool(public), max_body))
            indexes.append(i)
    for first, second, method in find_ties(routes):
        a, b = indexes[first], indexes[second]
        c.bad(
            f"routes[{b}].path",
            f"ties with routes[{a}] for {method} {routes[first].path!r}: two rules of the same shape are ambiguous",
        )
    return tuple(routes)


def _login(c: _Checker, value: Any) -> LoginSettings:
    d = c.mapping(
        value,
        "login",
        {
            "mode",
            "users",
            "header",
            "trusted_proxies",
            "session_url",
            "login_url",
            "return_param",
            "user_id_field",
            "account_id_field",
            "session_ttl",
        },
    )
    mode = c.string(d, "mode", "login", "static")
    if mode not in ("static", "trusted_header", "upstream_session"):
        c.bad("login.mode", "must be static, trusted_header or upstream_session")
    users: list[StaticUser] = []
    raw_users = d.get("users") or []
    if not isinstance(raw_users, list):
        c.bad("login.users", "must be a list")
        raw_users = []
    seen: set[str] = set()
    for i, u in enumerate(raw_users):
        p = f"login.users[{i}]"
        ud = c.mapping(u, p, {"username", "password_hash", "user_id"})
        name = c.string(ud, "username", p)
        ph = c.string(ud, "password_hash", p)
        uid = c.string(ud, "user_id", p)
        if ph and not valid_password_hash(ph):
            c.bad(f"{p}.password_hash", "is not a hash made by `scopegate hash-password`")
        if name in seen:
            c.bad(f"{p}.username", f"duplicate username {name!r}")
        seen.add(name)
        if name and ph and uid:
            users.append(StaticUser(name, ph, uid))
    if mode == "static" and not users:
        c.bad("login.users", "static login needs at least one user")
    proxies = c.networks(d.get("trusted_proxies"), "login.trusted_proxies")
    if mode == "trusted_header" and not proxies:
        c.bad("login.trusted_proxies", "trusted_header login needs the addresses of the proxies that set it")
    session_url = c.string(d, "session_url", "login", "")
    login_url = c.string(d, "login_url", "login", "")
    if mode == "upstream_session":
        _http_url(c, session_url, "login.session_url")
        if not login_url:
            c.bad("login.login_url", "is required for upstream_session login")
    return LoginSettings(
        mode=mode,
        users=tuple(users),
        header=c.string(d, "header", "login", "X-Authenticated-User"),
        trusted_proxies=proxies,
        session_url=session_url,
        login_url=login_url,
        return_param=c.string(d, "return_param", "login", "return_to"),
        user_id_field=c.string(d, "user_id_field", "login", "user_id"),
        account_id_field=c.string(d, "account_id_field", "login", "account_id"),
        session_ttl=int(c.number(d, "session_ttl", "login", 8 * 3600, minimum=60)),
    )


def _assertion(c: _Checker, value: Any, env: Mapping[str, str]) -> AssertionSettings:
    d = c.mapping(value, "assertion", {"enabled", "algorithm", "ttl", "header", "audience"})
    alg = c.string(d, "algorithm", "assertion", "ES256")
    if alg not in ("ES256", "RS256", "EdDSA"):
        c.bad("assertion.algorithm", "must be ES256, RS256 or EdDSA (asymmetric, so upstreams need no secret)")
    return AssertionSettings(
        enabled=c.boolean(d, "enabled", "assertion", False),
        algorithm=alg,
        ttl=int(c.number(d, "ttl", "assertion", 60, minimum=1)),
        header=c.string(d, "header", "assertion", "X-Auth-Assertion"),
        audience=c.string(d, "audience", "assertion", ""),
        private_key_pem=env.get("SCOPEGATE_ASSERTION_KEY", ""),
    )
