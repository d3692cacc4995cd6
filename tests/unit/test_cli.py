"""The CLI a newcomer and an operator touch: --version, check-config --config, routes explain, scope suggestions."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from gateway.cli import main
from tests.conftest import ROOT, SECRET_KEY
from tests.unit.test_settings import GOOD, problems, write

DEMO = str(ROOT / "config" / "demo.yaml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_version_comes_from_the_package_metadata() -> None:
    res = subprocess.run([sys.executable, "-m", "gateway.cli", "--version"], capture_output=True, text=True)
    assert res.returncode == 0
    assert res.stdout.strip() == f"scopegate {version('scopegate')}"


def test_check_config_takes_config_like_the_other_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "check-config", "--config", DEMO)
    assert code == 0 and out.startswith(f"{DEMO}: OK (16 routes, 14 scopes, login static)")
    code, out, _ = run(capsys, "check-config", DEMO)  # the positional form still works
    assert code == 0 and "OK (16 routes" in out
    bad = write(tmp_path, GOOD.replace("scope: events:read}", "scope: nope}"))
    code, _, err = run(capsys, "check-config", "--config", str(bad))
    assert code == 2 and "routes[0].scope (line 12): unknown scope(s): nope" in err
    code, _, err = run(capsys, "check-config", DEMO, "--config", str(bad))
    assert code == 2 and "give the file once" in err


def test_check_config_reads_scopegate_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCOPEGATE_CONFIG", DEMO)
    code, out, _ = run(capsys, "check-config")
    assert code == 0 and out.startswith(f"{DEMO}: OK")


def test_explain_a_scoped_route_says_what_each_caller_gets(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "routes", "explain", "--config", DEMO, "GET", "/v1/events?x=1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "GET /v1/events: route events.list needs a bearer token with scope events:read"
    rows = {who.strip(): what.strip() for who, what in (line.split(": ", 1) for line in lines[1:])}
    assert rows["without a token"] == (
        '401 (WWW-Authenticate: Bearer realm="apptoto-demo", resource_metadata='
        '"http://127.0.0.1:8080/.well-known/oauth-protected-resource")'
    )
    assert rows["with an invalid, expired or revoked token"] == "401 invalid_token"
    assert rows["with a token lacking events:read"].startswith("403 insufficient_scope")
    assert rows["with a token holding events:read"].startswith("forwarded to http://127.0.0.1:9000/v1/events")
    assert "basic_auth: passthrough" in rows["with HTTP Basic credentials"]
    assert "ALLOW" not in out


def test_explain_several_scopes_and_basic_reject(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = write(tmp_path, GOOD + "basic_auth: reject\n")
    code, out, _ = run(capsys, "routes", "explain", "--config", str(cfg), "POST", "/v1/events")
    assert code == 0
    assert "needs a bearer token with scope events:read events:write" in out
    out = re.sub(r": +", ": ", out)
    assert "with a token lacking any of events:read events:write: 403 insufficient_scope" in out
    assert "with a token holding all of events:read events:write: forwarded to http://127.0.0.1:9000/v1/events" in out
    assert "with HTTP Basic credentials: 401 invalid_request (basic_auth: reject)" in out


def test_explain_public_unmatched_and_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "routes", "explain", "--config", DEMO, "GET", "/v1/status")
    assert code == 0
    assert out.splitlines()[0] == "GET /v1/status: route status is public (no token needed)"
    assert "without a token:     forwarded to http://127.0.0.1:9000/v1/status" in out
    code, out, _ = run(capsys, "routes", "explain", "--config", DEMO, "DELETE", "/v1/contacts")
    assert code == 1
    assert out.splitlines() == [
        "DELETE /v1/contacts: no route matches",
        "  any request: 404 no_route (nothing is forwarded; add a route to expose it)",
    ]
    code, out, _ = run(capsys, "routes", "explain", "--config", DEMO, "GET", "/v1/%2e%2e/x")
    assert code == 1 and out.startswith("DENY 400 dot_segment")


def test_unknown_scope_names_get_a_suggestion(tmp_path: Path) -> None:
    text = GOOD.replace("scope: events:read}", "scope: [event:read, events:wrte, nothing]}")
    text += "scope_aliases:\n  all: [events:raed]\n"
    found = problems(tmp_path, text)
    assert (
        "routes[0].scope (line 12): unknown scope(s): event:read (did you mean 'events:read'?), "
        "events:wrte (did you mean 'events:write'?), nothing"
    ) in found
    assert "scope_aliases.all (line 15): unknown scope(s): events:raed (did you mean 'events:read'?)" in found


def test_check_config_shows_the_suggestion(tmp_path: Path) -> None:
    bad = write(tmp_path, GOOD.replace("scope: events:read}", "scope: event:read}"))
    res = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-config", "--config", str(bad)],
        capture_output=True,
        text=True,
        env={"SCOPEGATE_SECRET_KEY": SECRET_KEY, "PATH": ""},
    )
    assert res.returncode == 2
    assert "unknown scope(s): event:read (did you mean 'events:read'?)" in res.stderr


def test_metrics_listen_is_validated(tmp_path: Path) -> None:
    assert problems(tmp_path, GOOD + 'metrics_listen: "0.0.0.0:8080"\n') == [
        "metrics_listen (line 14): port 8080 is already the public or admin listener's"
    ]
    assert problems(tmp_path, GOOD + 'metrics_listen: "nonsense"\n') == [
        "metrics_listen (line 14): 'nonsense' must be host:port"
    ]
