"""The `scopegate` command: serve, check-config, routes explain, healthcheck, hash-password."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import json
import logging
import os
import secrets
import signal
import subprocess
import sys

from gateway.errors import ConfigError, GatewayError
from gateway.routespec import Route
from gateway.settings import Settings, load_settings

log = logging.getLogger("scopegate")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("SCOPEGATE_LOG_LEVEL", "INFO").upper())
    logging.getLogger("aiohttp.access").disabled = True


def _load(path: str | None) -> Settings:
    try:
        return load_settings(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from exc


def _run_workers(args: argparse.Namespace, settings: Settings) -> int:
    if settings.redis_url.startswith("memory://"):
        print("--workers needs a shared Redis: the memory:// store lives inside one process", file=sys.stderr)
        return 2
    env = {**os.environ, "SCOPEGATE_WORKER": "1"}
    cmd = [sys.executable, "-m", "gateway.cli", "serve", "--config", settings.source]
    children = [subprocess.Popen(cmd, env=env) for _ in range(args.workers)]  # noqa: S603 - our own command

    def forward(signum: int, _: object) -> None:
        for child in children:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGHUP, forward)  # every worker reloads its own route table
    codes = [child.wait() for child in children]
    return max(codes)


def cmd_serve(args: argparse.Namespace) -> int:
    _setup_logging()
    settings = _load(args.config)
    if args.workers > 1 and not os.environ.get("SCOPEGATE_WORKER"):
        return _run_workers(args, settings)
    demo_token = None
    if settings.redis_url.startswith("memory://") and not settings.admin_tokens:
        demo_token = secrets.token_urlsafe(24)  # printed, ready to paste, once the listeners are up
        settings = dataclasses.replace(settings, admin_tokens=(demo_token,))
    if settings.secret_key_generated:
        log.warning("SCOPEGATE_SECRET_KEY is not set: using a per-start key (fine for the embedded demo only)")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    from gateway.compose import serve  # the composition root: only `serve` needs the whole application

    asyncio.run(serve(settings, reuse_port=bool(os.environ.get("SCOPEGATE_WORKER")), demo_admin_token=demo_token))
    return 0


def _inspect(path: str | None) -> tuple[Settings, bool]:
    """Load a file to inspect it. A secret missing from *this* shell is not held against the file (these commands
    often run in CI or on a laptop, where production secrets rightly are not); returns (settings, secret missing)."""
    env = dict(os.environ)
    missing_secret = not env.get("SCOPEGATE_SECRET_KEY")
    if missing_secret:
        env["SCOPEGATE_SECRET_KEY"] = "-" * 32
    try:
        return load_settings(path, env), missing_secret
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from exc


def cmd_check_config(args: argparse.Namespace) -> int:
    if args.file and args.config and args.file != args.config:
        print("check-config: give the file once (FILE or --config FILE)", file=sys.stderr)
        return 2
    path = args.file or args.config or os.environ.get("SCOPEGATE_CONFIG")
    settings, missing_secret = _inspect(path)
    print(
        f"{settings.source}: OK ({len(settings.routes)} routes, {len(settings.scopes)} scopes, "
        f"login {settings.login.mode})"
    )
    if missing_secret and not settings.redis_url.startswith("memory://"):
        print("note: SCOPEGATE_SECRET_KEY is not set here; `scopegate serve` needs it (>= 32 characters)")
    return 0


def cmd_routes_explain(args: argparse.Namespace) -> int:
    from gateway.proxy.canonical import canonicalize
    from gateway.proxy.routes import RouteTable

    settings, _ = _inspect(args.config)
    method = args.method.upper()
    try:
        target = canonicalize(args.path)
    except GatewayError as exc:
        print(f"DENY 400 {exc.reason}: {exc.description}")
        return 1
    route = RouteTable(list(settings.routes)).match(method, target.path)
    print(explain(settings, method, target.path, route))
    return 1 if route is None else 0


def explain(settings: Settings, method: str, path: str, route: Route | None) -> str:
    """What METHOD PATH needs and what each kind of caller gets (the same decisions as gateway/proxy/pipeline.py)."""
    if route is None:
        return _table(
            f"{method} {path}: no route matches",
            [
                ("any request", "404 no_route (nothing is forwarded; add a route to expose it)"),
            ],
        )
    forwarded = f"forwarded to {settings.upstream}{path}"
    if route.public:
        return _table(
            f"{method} {path}: route {route.id} is public (no token needed)",
            [
                ("without a token", forwarded),
                ("with a bearer token", f"{forwarded} (the token is not checked and not forwarded)"),
            ],
        )
    scopes = " ".join(route.scopes)
    holding, lacking = ("holding", "lacking") if len(route.scopes) == 1 else ("holding all of", "lacking any of")
    rows = [
        (
            "without a token",
            f'401 (WWW-Authenticate: Bearer realm="{settings.realm}", '
            f'resource_metadata="{settings.resource_metadata_url}")',
        ),
        ("with an invalid, expired or revoked token", "401 invalid_token"),
        (
            f"with a token {lacking} {scopes}",
            f'403 insufficient_scope (WWW-Authenticate: Bearer ..., scope="{scopes}")',
        ),
        (f"with a token {holding} {scopes}", f"{forwarded} (the bearer token is not forwarded)"),
    ]
    if settings.basic_auth == "passthrough":
        rows.append(("with HTTP Basic credentials", f"{forwarded} with them untouched (basic_auth: passthrough)"))
    else:
        rows.append(("with HTTP Basic credentials", "401 invalid_request (basic_auth: reject)"))
    return _table(f"{method} {path}: route {route.id} needs a bearer token with scope {scopes}", rows)


def _table(title: str, rows: list[tuple[str, str]]) -> str:
    width = max(len(who) for who, _ in rows) + 1
    return "\n".join([title, *(f"  {who + ':':<{width}} {what}" for who, what in rows)])


def cmd_healthcheck(args: argparse.Namespace) -> int:
    """Ask the running gateway at its configured public listener (so SCOPEGATE_LISTEN is followed)."""
    import urllib.error
    import urllib.request

    from gateway.network import local_address

    settings, _ = _inspect(args.config)
    path = "/healthz" if args.live else "/readyz"
    url = f"http://{local_address(settings.listen_host)}:{settings.listen_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1
    print(f"{url}: {status}")
    return 0 if status == 200 else 1


def cmd_hash_password(args: argparse.Namespace) -> int:
    from gateway.security import hash_password

    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            print("passwords differ", file=sys.stderr)
            return 1
    if not password:
        print("empty password", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scopegate")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scopegate", description=__doc__)
    parser.add_argument("--version", action="version", version=f"scopegate {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway (public and admin listeners)")
    serve.add_argument("--config", default=os.environ.get("SCOPEGATE_CONFIG"))
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    serve.set_defaults(func=cmd_serve)
    check = sub.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("file", nargs="?", help="the file (or --config FILE, or SCOPEGATE_CONFIG)")
    check.add_argument("--config", help="the file (same as FILE)")
    check.set_defaults(func=cmd_check_config)
    routes = sub.add_parser("routes", help="route table tools")
    routes_sub = routes.add_subparsers(dest="routes_command", required=True)
    explain = routes_sub.add_parser("explain", help="which route and scope govern METHOD PATH")
    explain.add_argument("--config", default=os.environ.get("SCOPEGATE_CONFIG"))
    explain.add_argument("method")
    explain.add_argument("path")
    explain.set_defaults(func=cmd_routes_explain)
    health = sub.add_parser("healthcheck", help="ask the running gateway on its configured listener (exit 0 = ready)")
    health.add_argument("--config", default=os.environ.get("SCOPEGATE_CONFIG"))
    health.add_argument("--live", action="store_true", help="liveness (/healthz) instead of readiness (/readyz)")
    health.add_argument("--timeout", type=float, default=2.0, help="seconds")
    health.set_defaults(func=cmd_healthcheck)
    hp = sub.add_parser("hash-password", help="hash a password for login.users[].password_hash")
    hp.add_argument("--stdin", action="store_true", help="read the password from standard input")
    hp.set_defaults(func=cmd_hash_password)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
