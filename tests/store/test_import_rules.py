"""Import rules of the store, checked by walking every module's imports with `ast`:

- a consumer (any module of gateway/ or admin/ outside gateway/store/) imports from the store only Protocols of
  `gateway.store.base`; only the composition places, which build the store, may import the Redis adapter;
- only the adapter package (gateway/store/redis/) imports redis or fakeredis.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from gateway.store import base

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "admin")

# The places that build the store (and so name the adapter), and what else each may import from gateway.store.
COMPOSITION = {"gateway.services", "gateway.cli", "gateway.compose", "admin.app"}
ALSO_ALLOWED = {"gateway.settings": {"gateway.store.urls"}}  # validates redis+sentinel:// URLs in the settings

PROTOCOLS = {
    name
    for name, obj in vars(base).items()
    if inspect.isclass(obj) and issubclass(obj, Protocol) and getattr(obj, "_is_protocol", False)
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield module_name(path), path


def imports(module: str, source: str, is_package: bool = False) -> Iterator[tuple[str, str | None]]:
    """(module imported, name taken from it or None) for every import statement, at any depth."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                target = ".".join([*anchor, *([target] if target else [])])
            for alias in node.names:
                yield target, alias.name


def store_violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """What `module` imports from gateway.store beyond the Protocols of gateway.store.base."""
    if module.startswith("gateway.store") or module in COMPOSITION:
        return []
    allowed = ALSO_ALLOWED.get(module, set())
    problems = []
    for target, name in imports(module, source, is_package):
        full = f"{target}.{name}" if name and target in ("gateway", "gateway.store") else target
        if not (full == "gateway.store" or full.startswith("gateway.store.")):
            continue
        if full in allowed:
            continue
        if full == "gateway.store.base" and name in PROTOCOLS:
            continue
        problems.append(f"{module} imports {full}" + (f" ({name})" if name and full == target else ""))
    return problems


def redis_violations(module: str, source: str, is_package: bool = False) -> list[str]:
    if module == "gateway.store.redis" or module.startswith("gateway.store.redis."):
        return []
    return [
        f"{module} imports {target}"
        for target, _ in imports(module, source, is_package)
        if target.split(".")[0] in ("redis", "fakeredis")
    ]


def test_consumers_import_only_store_protocols() -> None:
    problems = []
    for module, path in modules():
        problems += store_violations(module, path.read_text(), path.name == "__init__.py")
    assert problems == []


def test_only_the_adapter_imports_redis() -> None:
    problems = []
    for module, path in modules():
        problems += redis_violations(module, path.read_text(), path.name == "__init__.py")
    assert problems == []


def test_the_walk_sees_the_imports_it_checks() -> None:
    """Not vacuous: the modules are found, the Protocols are known, and known consumers import them."""
    found = dict(modules())
    assert {"gateway.validation", "gateway.issuance", "gateway.store.redis.client", "admin.views"} <= found.keys()
    assert {"TokenReader", "TokenStore", "ApplicationRegistry", "Store"} <= PROTOCOLS
    assert ("gateway.store.base", "TokenReader") in set(
        imports("gateway.validation", found["gateway.validation"].read_text())
    )
    assert ("gateway.store.base", "TokenStore") in set(
        imports("gateway.issuance", found["gateway.issuance"].read_text())
    )


@pytest.mark.parametrize(
    "source",
    [
        "from gateway.store.redis_store import RedisStore",
        "from gateway.store.redis import connect",
        "from gateway.store import redis_store",
        "from gateway import store",
        "import gateway.store.redis.client",
        "from gateway.store.base import RevocationHandler",  # not a Protocol
        "from gateway.store.keyspace import app",
        "def f():\n    from gateway.store.redis_store import connect",  # a lazy import is still an import
        "from .store.redis import connect",
    ],
)
def test_the_rule_refuses_the_adapter(source: str) -> None:
    assert store_violations("gateway.somewhere", source)


@pytest.mark.parametrize("source", ["from gateway.store.base import TokenReader, Store", "import gateway.models"])
def test_the_rule_accepts_protocols(source: str) -> None:
    assert store_violations("gateway.somewhere", source) == []


def test_the_redis_rule_refuses_redis_outside_the_adapter() -> None:
    assert redis_violations("gateway.proxy.handler", "import redis.asyncio as aioredis")
    assert redis_violations("gateway.store.codec", "def f():\n    import fakeredis")
    assert redis_violations("gateway.store.redis.client", "import redis.asyncio as aioredis") == []
