"""The deployment artefacts (Dockerfile, deploy/) against the code they deploy: every variable
they set is a real setting, ports and probes match the service's routes, the config copies
match config/, and the objects reference each other by the right names.

The Helm chart is rendered with Helm's own engine in test_helm_chart.py; here its templates are
checked as text, next to the plain manifests."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml  # PyYAML: installed with litestar, a dependency of gateway-http

from gateway_adapters.auth.key_file import KeyFileError, load_keys_file
from gateway_http.cli import _parser as cli_parser
from gateway_http.provider_config import key_variables, load_gateway_config
from gateway_http.routes.health import health, ready
from gateway_http.settings import Settings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
# An optional Redis for the plain manifests, applied on its own (test_helm_chart.py checks it).
K8S_REDIS = K8S / "redis"
CHART = REPO / "deploy" / "helm" / "llm-gateway"
COMPOSE = REPO / "deploy" / "docker-compose.yml"
CONFIG_FILES = ("providers.json", "tools.json", "pricing.json")
# Read by prometheus_client itself, not by the gateway's settings.
EXTERNAL_VARIABLES = {"PROMETHEUS_MULTIPROC_DIR"}
# Read by Redis (requirepass) from the same Secret, and by the chart to compose the Redis URL.
REDIS_VARIABLES = {"REDIS_PASSWORD"}
PORT = 8080


def _k8s_objects() -> dict[str, dict[str, Any]]:
    """Every gateway object under deploy/k8s (examples included, Redis not), by kind."""
    objects = {}
    for path in sorted(p for p in K8S.rglob("*.yaml") if K8S_REDIS not in p.parents):
        for document in filter(None, yaml.safe_load_all(path.read_text("utf-8"))):
            assert document["kind"] not in objects, f"{path}: a second {document['kind']}"
            objects[document["kind"]] = document
    return objects


def _pod_spec() -> dict[str, Any]:
    return _k8s_objects()["Deployment"]["spec"]["template"]["spec"]


def _container() -> dict[str, Any]:
    (container,) = _pod_spec()["containers"]
    return container


def _compose_gateway() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text("utf-8"))["services"]["gateway"]


def _compose_environment() -> dict[str, str]:
    """The gateway's environment, with ``${NAME:-default}`` read as its default."""
    raw = _compose_gateway()["environment"]
    return {k: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(v)) for k, v in raw.items()}


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (REPO / "Dockerfile").read_text("utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    pairs = [line.strip().split(None, 1) for line in joined.splitlines() if line.strip()]
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


def _instruction(name: str) -> str:
    (arguments,) = [args for instruction, args in _dockerfile() if instruction == name]
    return arguments


def _dockerfile_env() -> dict[str, str]:
    tokens = [shlex.split(args) for instruction, args in _dockerfile() if instruction == "ENV"]
    return dict(token.split("=", 1) for group in tokens for token in group)


def _known_variables() -> set[str]:
    prefix = Settings.model_config["env_prefix"]
    settings = {f"{prefix}{name.upper()}" for name in Settings.model_fields}
    config = load_gateway_config(REPO / "config" / "providers.json")
    providers: set[str] = set()
    for name, provider in config.providers.items():
        providers.update(key_variables(name, provider))
        providers.update([provider.base_url_env] if provider.base_url_env else [])
    return settings | providers | EXTERNAL_VARIABLES


def _helm_values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text("utf-8"))


def _chart() -> dict[str, Any]:
    return yaml.safe_load((CHART / "Chart.yaml").read_text("utf-8"))


def _helm_template_variables() -> set[str]:
    text = "".join(p.read_text("utf-8") for p in sorted((CHART / "templates").iterdir()))
    return set(re.findall(r"\b(?:LLM_GATEWAY_\w+|PROMETHEUS_\w+)", text))


VARIABLE_SOURCES = {
    "k8s deployment": lambda: {e["name"] for e in _container()["env"]},
    "docker compose": lambda: set(_compose_gateway()["environment"]),
    "Dockerfile": lambda: {name for name in _dockerfile_env() if name.startswith("LLM_GATEWAY_")},
    "helm values": lambda: {*_helm_values()["env"], *_helm_values()["secrets"]["providerKeys"]},
    "helm templates": _helm_template_variables,
    "example secret": lambda: (
        set(_k8s_objects()["Secret"]["stringData"]) - {"api-keys.json"} - REDIS_VARIABLES
    ),
}


@pytest.mark.parametrize("source", VARIABLE_SOURCES)
def test_every_variable_set_is_one_the_gateway_reads(source: str) -> None:
    names = VARIABLE_SOURCES[source]()
    assert names, f"{source}: no variables found (the parser is broken)"
    assert names - _known_variables() == set()


PLAIN_VALUE_SOURCES = {
    "k8s deployment": lambda: {e["name"]: e["value"] for e in _container()["env"] if "value" in e},
    "docker compose": _compose_environment,
    "Dockerfile": _dockerfile_env,
    "helm values": lambda: _helm_values()["env"],
}


@pytest.mark.parametrize("source", PLAIN_VALUE_SOURCES)
def test_every_setting_value_is_accepted_by_settings(source: str) -> None:
    prefix = Settings.model_config["env_prefix"]
    values = {
        name.removeprefix(prefix).lower(): value
        for name, value in PLAIN_VALUE_SOURCES[source]().items()
        if name.removeprefix(prefix).lower() in Settings.model_fields
    }
    assert values
    Settings(**values)  # raises ValidationError on a value the gateway would refuse at start


def test_the_service_port_is_8080_everywhere() -> None:
    objects = _k8s_objects()
    (container_port,) = _container()["ports"]
    (service_port,) = objects["Service"]["spec"]["ports"]
    assert (container_port["containerPort"], container_port["name"]) == (PORT, "http")
    assert (service_port["port"], service_port["targetPort"]) == (PORT, "http")
    pod_annotations = objects["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert pod_annotations["prometheus.io/port"] == str(PORT)
    assert [p.rsplit(":", 1)[1] for p in _compose_gateway()["ports"]] == [str(PORT)]
    assert _instruction("EXPOSE") == str(PORT)
    assert _helm_values()["service"]["port"] == PORT


def test_probes_hit_the_service_liveness_and_readiness_routes() -> None:
    container = _container()
    probe_paths = {
        kind: container[kind]["httpGet"]["path"]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probe_paths["startupProbe"] in health.paths
    assert probe_paths["livenessProbe"] in health.paths
    assert probe_paths["readinessProbe"] in ready.paths
    assert {container[k]["httpGet"]["port"] for k in probe_paths} == {"http"}
    assert f"127.0.0.1:{PORT}/health" in _instruction("HEALTHCHECK")
    compose_check = " ".join(_compose_gateway()["healthcheck"]["test"])
    assert f"127.0.0.1:{PORT}/ready" in compose_check
    helm_deployment = (CHART / "templates" / "deployment.yaml").read_text("utf-8")
    helm_paths = re.findall(r"^\s+path: (/\S+)", helm_deployment, re.M)
    assert helm_paths == ["/health", "/health", "/ready"]


def test_the_image_runs_the_llm_gateway_console_script() -> None:
    command = json.loads(_instruction("CMD"))
    service = tomllib.loads((REPO / "services/gateway-http/pyproject.toml").read_text("utf-8"))
    assert service["project"]["scripts"][command[0]] == "gateway_http.cli:main"
    arguments = cli_parser().parse_args(command[1:])
    assert (arguments.command, arguments.host, arguments.port) == ("serve", "0.0.0.0", PORT)


def test_everything_the_dockerfile_copies_is_in_the_build_context() -> None:
    ignore = (REPO / ".dockerignore").read_text("utf-8").splitlines()
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore, ".dockerignore is expected to be an allow-list"
    sources = [
        shlex.split(args)[:-1]
        for instruction, args in _dockerfile()
        if instruction == "COPY" and not args.startswith("--from")
    ]
    for source in (s for group in sources for s in group):
        assert source.split("/")[0] in included, f"COPY {source}: excluded by .dockerignore"
        assert (REPO / source).exists(), f"COPY {source}: no such path"


def test_the_image_user_is_the_pod_user_and_can_write_only_to_volumes() -> None:
    pod, container = _pod_spec(), _container()
    user = _instruction("USER").split(":")[0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert str(pod["securityContext"]["runAsUser"]) == user != "0"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    multiproc = env["PROMETHEUS_MULTIPROC_DIR"]
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    assert {mounts["/tmp"], mounts[multiproc]} <= empty_dirs
    assert {"/tmp", multiproc} <= set(_compose_gateway()["tmpfs"])


def test_the_objects_reference_each_other_by_name() -> None:
    objects = _k8s_objects()
    deployment, pod, container = objects["Deployment"], _pod_spec(), _container()
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"].items()
    assert objects["Service"]["spec"]["selector"].items() <= pod_labels
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= pod_labels
    scale_target = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert scale_target["name"] == deployment["metadata"]["name"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert {m["name"] for m in container["volumeMounts"]} <= volumes.keys()
    assert volumes["config"]["configMap"]["name"] == objects["ConfigMap"]["metadata"]["name"]
    secret = objects["Secret"]
    references = [e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e]
    references += [{"name": volumes["api-keys"]["secret"]["secretName"], "key": "api-keys.json"}]
    for reference in references:
        assert reference["name"] == secret["metadata"]["name"]
        assert reference["key"] in secret["stringData"]
    assert all("namespace" not in o["metadata"] for o in objects.values())
    assert container["image"].endswith(":" + _chart()["appVersion"])


def test_the_chart_and_image_versions_are_the_gateway_version() -> None:
    service = tomllib.loads((REPO / "services/gateway-http/pyproject.toml").read_text("utf-8"))
    version = service["project"]["version"]
    assert _chart()["appVersion"] == version
    build_arguments = [args for instruction, args in _dockerfile() if instruction == "ARG"]
    assert f"VERSION={version}" in build_arguments


def test_the_deployed_config_files_are_copies_of_config() -> None:
    configmap = _k8s_objects()["ConfigMap"]["data"]
    hint = "config/ changed: run `uv run python deploy/sync_config.py`"
    for name in CONFIG_FILES:
        original = (REPO / "config" / name).read_text("utf-8")
        assert configmap[name] == original, f"deploy/k8s/configmap.yaml: {hint}"
        assert (CHART / "files" / name).read_text("utf-8") == original, f"helm files/: {hint}"


def test_the_example_secret_holds_placeholders_only(tmp_path: Path) -> None:
    values = _k8s_objects()["Secret"]["stringData"]
    assert all("REPLACE_ME" in value for value in values.values())
    keys_file = tmp_path / "api-keys.json"
    keys_file.write_text(values["api-keys.json"], "utf-8")
    with pytest.raises(KeyFileError, match="sha256"):
        load_keys_file(keys_file)
