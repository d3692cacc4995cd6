"""deploy/ stays true to the code: image name, ports, environment variable names, probe paths, configurations.

Both examples are loaded as YAML; each scopegate configuration they carry is validated by the real loader with the
environment the example gives the container, and every port and path is compared with what that configuration and
the code actually use.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from gateway.cli import build_parser
from gateway.health import setup_routes
from gateway.settings import Settings, load_settings
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
IMAGE = f"scopegate:{VERSION}"


def env_names_the_code_reads() -> set[str]:
    names: set[str] = set()
    for module in ("gateway/settings.py", "gateway/cli.py"):
        names |= set(re.findall(r'"(SCOPEGATE_[A-Z_]+)"', (ROOT / module).read_text()))
    return names


def health_paths() -> set[str]:
    app = web.Application()
    setup_routes(app)
    return {r.resource.canonical for r in app.router.routes() if r.resource is not None}


def config_from(text: str, tmp_path: Path, env: dict[str, str]) -> Settings:
    path = tmp_path / "scopegate.yaml"
    path.write_text(text)
    return load_settings(path, env)


# --- Kubernetes --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def k8s() -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()) if d]
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


def sidecar(k8s: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    pod = k8s["Deployment/api"]["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    assert set(containers) == {"api", "scopegate"}, "scopegate runs as a sidecar next to the API container"
    return pod, containers["scopegate"]


def k8s_env(k8s: dict[str, dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = str(item["value"])
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            secret = k8s[f"Secret/{ref['name']}"]
            assert ref["key"] in secret["stringData"], f"{item['name']} names a key the Secret does not have"
            env[item["name"]] = secret["stringData"][ref["key"]]
    return env


def test_kubernetes_sidecar_matches_the_code(k8s: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    pod, sg = sidecar(k8s)
    assert sg["image"] == IMAGE
    build_parser().parse_args(sg["args"])  # a real subcommand
    assert sg["args"] == ["serve"]

    env = k8s_env(k8s, sg)
    assert set(env) <= env_names_the_code_reads(), set(env) - env_names_the_code_reads()
    assert {"SCOPEGATE_SECRET_KEY", "SCOPEGATE_ADMIN_TOKEN"} <= set(env)
    assert all(e["name"] in ("SCOPEGATE_SECRET_KEY", "SCOPEGATE_ADMIN_TOKEN") for e in sg["env"] if "valueFrom" in e)

    # The configuration comes from the ConfigMap, mounted where SCOPEGATE_CONFIG points.
    mount = next(m for m in sg["volumeMounts"] if m["name"] == "config")
    volume = next(v for v in pod["volumes"] if v["name"] == "config")
    cm = k8s[f"ConfigMap/{volume['configMap']['name']}"]
    item = next(
        i for i in volume["configMap"]["items"] if f"{mount['mountPath']}/{i['path']}" == env["SCOPEGATE_CONFIG"]
    )
    settings = config_from(cm["data"][item["key"]], tmp_path, env)

    ports = {p["name"]: p["containerPort"] for p in sg["ports"]}
    assert ports["http"] == settings.listen_port
    assert ports["metrics"] == settings.metrics_port and settings.metrics_enabled
    assert settings.admin_host == "127.0.0.1", "the admin API stays on loopback"
    annotations = k8s["Deployment/api"]["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == settings.metrics_port
    assert annotations["prometheus.io/path"] == "/metrics"

    # Probes: readiness /readyz and liveness /healthz on the public listener, paths the code serves.
    assert sg["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert sg["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert {"/readyz", "/healthz"} <= health_paths()

    # Redis by reference; the upstream is the API container in the same pod.
    assert settings.redis_url == env["SCOPEGATE_REDIS_URL"] == "redis://redis:6379/0"
    api = next(c for c in pod["containers"] if c["name"] == "api")
    assert settings.upstream == f"http://127.0.0.1:{api['ports'][0]['containerPort']}"

    # The Service reaches scopegate, never the API container directly.
    service = k8s["Service/api"]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    assert service["spec"]["selector"] == k8s["Deployment/api"]["spec"]["selector"]["matchLabels"]


# --- Compose -----------------------------------------------------------------------------------------------------


def compose_value(value: str) -> str:
    """${NAME:-default} as `docker compose up` resolves it with NAME unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_compose_matches_the_code(tmp_path: Path) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"scopegate", "redis", "upstream"}
    sg = services["scopegate"]
    assert sg["image"] == IMAGE and services["upstream"]["image"] == IMAGE
    assert (DEPLOY / sg["build"]["context"] / sg["build"]["dockerfile"]).resolve() == ROOT / "Dockerfile"
    build_parser().parse_args(sg["command"])

    env = {k: compose_value(str(v)) for k, v in sg["environment"].items()}
    assert set(env) <= env_names_the_code_reads(), set(env) - env_names_the_code_reads()
    host_file, _, rest = sg["volumes"][0].partition(":")
    container_file = rest.split(":")[0]
    assert container_file == env["SCOPEGATE_CONFIG"]
    settings = config_from((DEPLOY / host_file).read_text(), tmp_path, env)

    published = {}
    for mapping in sg["ports"]:
        *host, container = mapping.split(":")
        published[int(container)] = host
    assert settings.listen_port in published and published[settings.listen_port] == [str(settings.listen_port)]
    assert settings.metrics_enabled and settings.metrics_port in published
    assert published[settings.admin_port][0] == "127.0.0.1", "the admin API is published on the host's loopback only"

    # Hosts are the other services; the upstream listens where the configuration points.
    assert settings.redis_url.startswith("redis://redis:6379")
    up_cmd = services["upstream"]["entrypoint"]
    assert up_cmd[:3] == ["python", "-m", "gateway.demo_upstream"]
    assert settings.upstream == f"http://upstream:{up_cmd[up_cmd.index('--port') + 1]}"
    assert services["upstream"]["healthcheck"] == {"disable": True}
    assert sg["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert settings.login.mode == "static" and [u.username for u in settings.login.users] == ["demo"]


# --- The image ---------------------------------------------------------------------------------------------------


def test_dockerfile_matches_the_code() -> None:
    text = (ROOT / "Dockerfile").read_text()
    exposed = {int(p) for p in re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split()}  # type: ignore[union-attr]
    defaults = load_settings(ROOT / "config" / "scopegate.yaml", {"SCOPEGATE_SECRET_KEY": "x" * 32})
    assert {defaults.listen_port, defaults.admin_port, 9090} <= exposed
    healthcheck = re.search(r"^HEALTHCHECK .* CMD (\[.*\])$", text, re.M)
    assert healthcheck is not None
    cmd = yaml.safe_load(healthcheck.group(1))
    assert cmd[0] == "scopegate"
    args = build_parser().parse_args(cmd[1:])
    assert args.command == "healthcheck" and not args.live  # readiness
    assert "--constraint constraints.txt" in text
    assert f"docker build -t {IMAGE} ." in text
    for env_name in re.findall(r"^ENV (SCOPEGATE_[A-Z_]+)=", text, re.M):
        assert env_name in env_names_the_code_reads()


def test_constraints_pin_every_runtime_dependency() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{line!r} is not an exact pin"
            pins[name] = version
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        name = re.split(r"[\[<>=;! ]", dep, maxsplit=1)[0].lower()
        assert name in pins, f"{name} is a dependency without a pin in constraints.txt"


# --- The README --------------------------------------------------------------------------------------------------


def test_readme_operations_links_deploy_and_names_every_metric() -> None:
    from gateway.metrics import Metrics

    readme = (ROOT / "README.md").read_text()
    operations = readme[readme.index("## Operations") : readme.index("## Security model")]
    assert "(deploy/kubernetes.yaml)" in operations and "(deploy/compose.yaml)" in operations
    for metric in Metrics().registry.collect():
        name = metric.name + ("_total" if metric.type == "counter" else "")
        assert f"`{name}`" in operations, f"{name} is not documented in the README's Operations section"
    for words in ("metrics_listen", "scopegate healthcheck", "constraints.txt", f"docker build -t {IMAGE} ."):
        assert words in operations, words
    assert "--version" in readme and "check-config --config FILE" in readme
    for name in env_names_the_code_reads() - {"SCOPEGATE_WORKER"}:  # the one internal variable (--workers)
        assert f"`{name}`" in readme, f"{name} is read by the code but not documented"
