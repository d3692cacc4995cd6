"""The house plan, checked: what each package may import (the README's code map states the same rules).

Run alone with `.venv/bin/pytest tests/test_package_rules.py`. The store's own rules (Protocols only, redis only in
the adapter) are in tests/store/test_import_rules.py; this walks the same imports for the package boundaries.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.store.test_import_rules import imports, modules

ROOT = Path(__file__).resolve().parents[1]

# package (prefix) -> prefixes it must never import. Runtime imports only: `if TYPE_CHECKING:` blocks are types.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # Nothing below the composition root imports the admin service.
    "gateway": ("admin",),
    # The data plane knows nothing of the browser portal or the authorization server.
    "gateway.proxy": ("gateway.oauth", "gateway.portal", "gateway.services", "gateway.store.redis", "admin"),
    # The portal (sign-in, sessions, account and developer pages) never reaches into the protocol endpoints.
    "gateway.portal": ("gateway.oauth", "gateway.proxy"),
    # The protocol endpoints do not depend on the proxy.
    "gateway.oauth": ("gateway.proxy",),
    # The store is the bottom floor: no web layer above it.
    "gateway.store": (
        "gateway.oauth",
        "gateway.portal",
        "gateway.proxy",
        "gateway.services",
        "gateway.middleware",
        "admin",
        "aiohttp",
    ),
    # Leaves.
    "gateway.keys": ("gateway",),
    "gateway.errors": ("gateway", "aiohttp"),
    "gateway.models": ("gateway", "aiohttp"),
    "gateway.routespec": ("gateway", "aiohttp"),
    "gateway.redirect_uri": ("gateway", "aiohttp"),
    "gateway.events": ("gateway.store", "gateway.oauth", "gateway.portal", "gateway.proxy", "aiohttp"),
}
EXCEPT = {"gateway.compose": ("admin",)}  # the composition root wires the admin app
LEAF_ALLOWED = {"gateway.errors", "gateway.models", "gateway.events"}  # what leaves may still import of gateway


def _runtime_source(path: Path) -> str:
    """The module without its `if TYPE_CHECKING:` blocks (imports there are for the type checker only)."""
    tree = ast.parse(path.read_text())
    tree.body = [n for n in tree.body if not (isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test))]
    return ast.unparse(tree)


def _hits(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


def violations() -> list[str]:
    found = []
    for module, path in modules():
        source = _runtime_source(path)
        for package, banned in FORBIDDEN.items():
            if not _hits(module, package):
                continue
            for target, _ in imports(module, source, path.name == "__init__.py"):
                for prefix in banned:
                    if not _hits(target, prefix) or (_hits(target, package) and prefix == "gateway"):
                        continue
                    if prefix in EXCEPT.get(module, ()):
                        continue
                    if prefix == "gateway" and target in LEAF_ALLOWED:
                        continue
                    found.append(f"{module} imports {target} (rule: {package} must not import {prefix})")
    return found


def test_every_package_keeps_to_its_floor() -> None:
    assert violations() == []


def test_the_walk_sees_real_imports() -> None:
    """Not vacuous: the proxy handler does import the pipeline, and a planted import is caught."""
    sources = dict(modules())
    handler = _runtime_source(sources["gateway.proxy.handler"])
    assert ("gateway.proxy.pipeline", "Decider") in set(imports("gateway.proxy.handler", handler))
    planted = ast.parse("from gateway.portal import pages\n")
    assert [t for t, _ in imports("gateway.proxy.x", ast.unparse(planted))] == ["gateway.portal"]


@pytest.mark.parametrize("leaf", ["gateway.keys", "gateway.errors", "gateway.routespec", "gateway.redirect_uri"])
def test_leaves_import_nothing_heavy(leaf: str) -> None:
    path = dict(modules())[leaf]
    targets = {t for t, _ in imports(leaf, _runtime_source(path))}
    assert not {t for t in targets if t.startswith(("redis", "fakeredis", "jinja2", "gateway.store"))}
