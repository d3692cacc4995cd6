"""Configuration: the shipped files pass; bad files fail with every problem, its key path and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.settings import load_settings
from tests.conftest import ROOT, SECRET_KEY

ENV = {"SCOPEGATE_SECRET_KEY": SECRET_KEY}

GOOD = """\
listen: "127.0.0.1:8080"
public_url: "http://127.0.0.1:8080"
upstream: "http://127.0.0.1:9000"
redis_url: "redis://127.0.0.1:6379/0"
scopes:
  events:read: View events
  events:write: Change events
login:
  mode: static
  users: [{username: u, user_id: "1", password_hash: "scrypt$16384$8$1$c2FsdA==$aGFzaA=="}]
routes:
  - {id: list, methods: [GET], path: /v1/events, scope: events:read}
  - {id: write, methods: [POST], path: /v1/events, scope: [events:read, events:write]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), ENV if env is None else env)
    return [str(p) for p in info.value.problems]


def test_shipped_configs_pass() -> None:
    s = load_settings(ROOT / "config" / "scopegate.yaml", ENV)
    assert len(s.scopes) == 14
    by_id = {r.id: r for r in s.routes}
    assert by_id["events.list"].scopes == ("events:read",)
    assert by_id["lists.write"].methods == frozenset({"POST", "PUT", "DELETE"})
    demo = load_settings(ROOT / "config" / "demo.yaml", {})
    assert demo.redis_url == "memory://" and demo.secret_key_generated


def test_good_config_and_env_overrides(tmp_path: Path) -> None:
    env = {
        **ENV,
        "SCOPEGATE_LISTEN": "0.0.0.0:9999",
        "SCOPEGATE_UPSTREAM": "http://10.0.0.1:81",
        "SCOPEGATE_REDIS_URL": "unix:///run/redis.sock",
        "SCOPEGATE_ADMIN_TOKEN": "a" * 20 + "," + "b" * 20,
    }
    s = load_settings(write(tmp_path, GOOD), env)
    assert (s.listen_host, s.listen_port) == ("0.0.0.0", 9999)
    assert s.upstream == "http://10.0.0.1:81"
    assert s.redis_url == "unix:///run/redis.sock"
    assert s.admin_tokens == ("a" * 20, "b" * 20)
    assert s.routes[1].scopes == ("events:read", "events:write")


def test_typo_key_is_reported_with_path_and_line(tmp_path: Path) -> None:
    text = GOOD.replace("  - {id: list, methods: [GET]", "  - {id: list, method: [GET]")
    text = text.replace('upstream: "http', 'upstreem: "http')
    found = problems(tmp_path, text)
    assert "upstreem (line 3): unknown key (did you mean 'upstream'?)" in found
    assert any(p.startswith("routes[0].method (line 12): unknown key") for p in found)


def test_unknown_scope_is_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("scope: events:read}", "scope: event:read}"))
    assert found == ["routes[0].scope (line 12): unknown scope(s): event:read (did you mean 'events:read'?)"]


def test_tying_routes_are_reported(tmp_path: Path) -> None:
    text = (
        GOOD + '  - {id: a, methods: [GET], path: "/v1/{x}", scope: events:read}\n'
        '  - {id: b, methods: [GET, PUT], path: "/v1/{y}", scope: events:read}\n'
    )
    found = problems(tmp_path, text)
    assert len(found) == 1
    assert found[0].startswith("routes[3].path (line 15): ties with routes[2] for GET")


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = GOOD.replace('"http://127.0.0.1:9000"', '"ftp://x"').replace('"redis://127.0.0.1:6379/0"', '"mysql://x"')
    text = text.replace("[GET], path: /v1/events, scope: events:read", "[GET, HEAD], path: v1/events, scope: nope")
    found = problems(tmp_path, text, env={})
    joined = "\n".join(found)
    for expected in (
        "upstream (line 3)",
        "redis_url (line 4)",
        "routes[0].path",
        "routes[0].methods[1]",
        "routes[0].scope",
        "SCOPEGATE_SECRET_KEY",
    ):
        assert expected in joined, joined


def test_secrets_are_not_read_from_the_file(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD + "secret_key: abc\n")
    assert any(p.startswith("secret_key (line 14): unknown key") for p in found)


def test_check_config_command_exit_codes(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-config", str(ROOT / "config" / "demo.yaml")],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    bad = write(tmp_path, GOOD.replace("scope: events:read}", "scope: nope}"))
    res = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-config", str(bad)],
        capture_output=True,
        text=True,
        env={"SCOPEGATE_SECRET_KEY": SECRET_KEY, "PATH": ""},
    )
    assert res.returncode == 2
    assert "routes[0].scope (line 12): unknown scope(s): nope" in res.stderr


def test_routes_explain(tmp_path: Path) -> None:
    cfg = str(ROOT / "config" / "demo.yaml")
    run = lambda *a: subprocess.run(
        [sys.executable, "-m", "gateway.cli", "routes", "explain", "--config", cfg, *a], capture_output=True, text=True
    )
    allowed = run("GET", "/v1/events?x=1")
    assert allowed.returncode == 0 and "events.list" in allowed.stdout and "events:read" in allowed.stdout
    denied = run("GET", "/v1/unknown")
    assert denied.returncode == 1 and "no_route" in denied.stdout
    bad = run("GET", "/v1/%2e%2e/x")
    assert bad.returncode == 1 and "dot_segment" in bad.stdout


def test_check_config_passes_the_shipped_file_without_production_secrets() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-config", str(ROOT / "config" / "scopegate.yaml")],
        capture_output=True,
        text=True,
        env={"PATH": ""},
    )
    assert res.returncode == 0, res.stderr
    assert "OK (15 routes, 14 scopes" in res.stdout
    assert "SCOPEGATE_SECRET_KEY is not set here" in res.stdout


def test_numbers_below_their_minimum_are_reported_not_replaced_by_defaults(tmp_path: Path) -> None:
    """Every number is checked with the rest: none is quietly swapped for its default (cache.max_entries: 0 once
    loaded as 100,000)."""
    found = problems(
        tmp_path,
        GOOD
        + "cache: {max_entries: 0, max_age: -1}\nclient_timeouts: {idle: 0}\ntokens: {access_ttl: 0}\n"
        + "max_body: big\nclient_auth: {max_failures: 0}\n",
    )
    for path in (
        "cache.max_entries",
        "cache.max_age",
        "client_timeouts.idle",
        "tokens.access_ttl",
        "max_body",
        "client_auth.max_failures",
    ):
        assert any(p.startswith(f"{path} (line ") and "must be a number >=" in p for p in found), (path, found)
