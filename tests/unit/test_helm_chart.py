"""The Helm chart rendered by Helm's own engine (v4, the helm-python-sdk wheel; no cluster):
each Secret shape for client keys, env values winning over the chart's entries, the optional
objects wired to the gateway by the right names, values.schema.json refusing typos, and every
rendered object valid for Kubernetes (deploy/check_chart.py, which .ci/run also runs)."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import pytest
import yaml

from tests.unit.test_deploy_manifests import _known_variables

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "llm-gateway"
EXTERNAL_REDIS = {"redis": {"url": "redis://redis.example:6379/0"}}
KEYS_FILE = {"secrets": {"apiKeysFile": '{"keys": []}'}}
KEYS_FILE_PATH = "/etc/llm-gateway/keys/api-keys.json"
OPTIONAL_KINDS = {"Ingress", "NetworkPolicy", "ServiceMonitor", "PodMonitor", "StatefulSet"}


def _load_check_chart() -> Any:
    spec = importlib.util.spec_from_file_location("check_chart", REPO / "deploy/check_chart.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_chart = _load_check_chart()


def _merge(*layers: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = _merge(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
    return merged


def _render(*layers: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The chart's objects by kind."""
    objects: dict[str, list[dict[str, Any]]] = {}
    for document in check_chart.render(_merge(*layers)):
        objects.setdefault(document["kind"], []).append(document)
    return objects


def _one(objects: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, Any]:
    (only,) = objects[kind]
    return only


def _gateway(objects: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    (container,) = _one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return container


def _env(objects: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    entries = _gateway(objects)["env"]
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names)), f"duplicate env entries: {names}"
    return {entry["name"]: entry for entry in entries}


def _volumes(objects: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    spec = _one(objects, "Deployment")["spec"]["template"]["spec"]
    return {volume["name"]: volume for volume in spec["volumes"]}


def _secret_ref(entry: dict[str, Any]) -> dict[str, Any]:
    return entry["valueFrom"]["secretKeyRef"]


# --- client keys: the chart's Secret, or an existing one in either shape -------------------


def test_the_chart_secret_with_a_keys_file_mounts_it_and_names_it() -> None:
    objects = _render(EXTERNAL_REDIS, KEYS_FILE)
    env, volumes = _env(objects), _volumes(objects)
    assert env["LLM_GATEWAY_API_KEYS_FILE"]["value"] == KEYS_FILE_PATH
    assert "LLM_GATEWAY_API_KEYS" not in env
    keys_volume = volumes["api-keys"]["secret"]
    assert keys_volume.get("optional") is None  # a missing file must stop the pod, not start it
    assert keys_volume["items"] == [{"key": "api-keys.json", "path": "api-keys.json"}]
    secret = _one(objects, "Secret")
    assert keys_volume["secretName"] == secret["metadata"]["name"]
    assert secret["stringData"]["api-keys.json"].strip() == '{"keys": []}'


def test_the_chart_secret_with_keys_in_a_variable_passes_the_variable_only() -> None:
    objects = _render(EXTERNAL_REDIS, {"secrets": {"values": {"LLM_GATEWAY_API_KEYS": "[]"}}})
    env = _env(objects)
    assert "LLM_GATEWAY_API_KEYS_FILE" not in env and "api-keys" not in _volumes(objects)
    reference = _secret_ref(env["LLM_GATEWAY_API_KEYS"])
    assert reference["key"] in _one(objects, "Secret")["stringData"]


@pytest.mark.parametrize(
    ("shape", "from_file", "from_env"),
    [("file", True, False), ("env", False, True), ("both", True, True), ("none", False, False)],
)
def test_an_existing_secret_gives_the_keys_where_it_holds_them(
    shape: str, from_file: bool, from_env: bool
) -> None:
    """The crash loop of issue 15: a Secret holding only LLM_GATEWAY_API_KEYS got a keys-file
    path pointing at nothing, and the variable itself never reached the pod."""
    secrets = {"existingSecret": "team-secrets", "existingSecretApiKeys": shape}
    objects = _render({"secrets": secrets})
    env, volumes = _env(objects), _volumes(objects)
    assert "Secret" not in objects
    assert ("LLM_GATEWAY_API_KEYS_FILE" in env) is from_file
    assert ("api-keys" in volumes) is from_file
    assert ("LLM_GATEWAY_API_KEYS" in env) is from_env
    if from_file:
        assert volumes["api-keys"]["secret"]["secretName"] == "team-secrets"
        assert env["LLM_GATEWAY_API_KEYS_FILE"]["value"] == KEYS_FILE_PATH
    if from_env:
        reference = _secret_ref(env["LLM_GATEWAY_API_KEYS"])
        expected = {"name": "team-secrets", "key": "LLM_GATEWAY_API_KEYS", "optional": False}
        assert reference == expected
    assert _secret_ref(env["LLM_GATEWAY_REDIS_URL"])["name"] == "team-secrets"


def test_an_existing_secret_wires_no_keys_when_authentication_is_off() -> None:
    """Authentication off: the gateway reads no keys, so the Secret need not hold any (a
    required mount of a missing key would keep the pod from starting)."""
    auth_off = {"env": {"LLM_GATEWAY_AUTH_ENABLED": "false"}}
    for shape in ("file", "env", "both"):
        secrets = {"existingSecret": "team-secrets", "existingSecretApiKeys": shape}
        objects = _render({"secrets": secrets}, auth_off)
        env = _env(objects)
        assert not {"LLM_GATEWAY_API_KEYS_FILE", "LLM_GATEWAY_API_KEYS"} & set(env)
        assert "api-keys" not in _volumes(objects)


def test_an_existing_secret_defaults_to_the_keys_file_shape() -> None:
    env = _env(_render({"secrets": {"existingSecret": "team-secrets"}}))
    assert env["LLM_GATEWAY_API_KEYS_FILE"]["value"] == KEYS_FILE_PATH


def test_every_chart_secret_value_reaches_the_gateway_from_the_secret() -> None:
    values = {"LLM_GATEWAY_OPENAI_API_KEY": "sk-test", "LLM_GATEWAY_OLLAMA_URL": "http://o:1"}
    objects = _render(EXTERNAL_REDIS, KEYS_FILE, {"secrets": {"values": values}})
    env, secret = _env(objects), _one(objects, "Secret")
    for name in values:
        assert _secret_ref(env[name])["key"] == name
        assert _secret_ref(env[name])["name"] == secret["metadata"]["name"]
        assert secret["stringData"][name] == values[name]
        assert "value" not in env[name]


# --- env: values win, each name once ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LLM_GATEWAY_WORKERS", "4"),
        ("LLM_GATEWAY_PROVIDERS_CONFIG", "/custom/providers.json"),
        ("LLM_GATEWAY_REDIS_URL", "redis://plain:6379/1"),
        ("LLM_GATEWAY_OPENAI_API_KEY", "from-values"),
    ],
)
def test_a_name_set_in_env_wins_over_the_chart_entry_and_appears_once(
    name: str, value: str
) -> None:
    env = _env(_render(EXTERNAL_REDIS, KEYS_FILE, {"env": {name: value}}))  # _env: no duplicates
    assert env[name] == {"name": name, "value": value}


def test_workers_sets_the_worker_variable_when_env_does_not() -> None:
    env = _env(_render(EXTERNAL_REDIS, KEYS_FILE, {"workers": 3}))
    assert env["LLM_GATEWAY_WORKERS"]["value"] == "3"


@pytest.mark.parametrize("scenario", sorted(check_chart.scenarios()))
def test_every_rendered_variable_is_one_the_gateway_reads(scenario: str) -> None:
    objects = _render(check_chart.scenarios()[scenario])
    names = set(_env(objects)) - {"REDIS_PASSWORD"}  # composes the URL, see the Redis test
    assert names and names - _known_variables() == set()


# --- the chart's Redis --------------------------------------------------------------------

IN_CHART_REDIS = {"redis": {"enabled": True, "auth": {"password": "s3cret0"}}}


def test_the_chart_redis_is_what_the_gateway_connects_to() -> None:
    objects = _render(IN_CHART_REDIS, KEYS_FILE)
    entries = _gateway(objects)["env"]
    names = [entry["name"] for entry in entries]
    # Kubernetes expands $(REDIS_PASSWORD) only from an entry defined before.
    assert names.index("REDIS_PASSWORD") < names.index("LLM_GATEWAY_REDIS_URL")
    env = _env(objects)
    service = next(s for s in objects["Service"] if s["metadata"]["name"].endswith("-redis"))
    statefulset = _one(objects, "StatefulSet")
    host = service["metadata"]["name"]
    assert env["LLM_GATEWAY_REDIS_URL"]["value"] == f"redis://:$(REDIS_PASSWORD)@{host}:6379/0"
    secret = _one(objects, "Secret")
    assert secret["stringData"]["REDIS_PASSWORD"] == "s3cret0"
    assert "LLM_GATEWAY_REDIS_URL" not in secret["stringData"]
    assert _secret_ref(env["REDIS_PASSWORD"])["name"] == secret["metadata"]["name"]
    pod = statefulset["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    gateway_labels = _one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    gateway_service = next(s for s in objects["Service"] if s is not service)
    assert not gateway_service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert gateway_service["spec"]["selector"].items() <= gateway_labels.items()
    (redis,) = pod["spec"]["containers"]
    args = redis["args"]
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    assert {e["name"] for e in redis["env"]} == {"REDIS_PASSWORD", "REDISCLI_AUTH"}
    assert statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


def test_the_chart_redis_without_auth_needs_no_password() -> None:
    objects = _render({"redis": {"enabled": True, "auth": {"enabled": False}}}, KEYS_FILE)
    env = _env(objects)
    assert "REDIS_PASSWORD" not in env
    assert env["LLM_GATEWAY_REDIS_URL"]["value"].startswith("redis://llm-gateway-redis:6379")
    (redis,) = _one(objects, "StatefulSet")["spec"]["template"]["spec"]["containers"]
    assert "--requirepass" not in redis["args"] and "env" not in redis


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "redis.url is required"),
        (_merge(IN_CHART_REDIS, EXTERNAL_REDIS, KEYS_FILE), "exclusive"),
        (_merge({"redis": {"enabled": True}}, KEYS_FILE), "needs redis.auth.password"),
        (EXTERNAL_REDIS, "no client keys"),
    ],
)
def test_the_chart_refuses_values_that_would_deploy_a_broken_gateway(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmError, match=message):
        check_chart.render(values)


# --- optional objects ---------------------------------------------------------------------


def test_the_optional_objects_are_off_by_default() -> None:
    kinds = set(_render(EXTERNAL_REDIS, KEYS_FILE))
    assert kinds == {
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Secret",
        "Service",
    }
    assert not kinds & OPTIONAL_KINDS


def test_the_optional_objects_point_at_the_gateway() -> None:
    objects = _render(check_chart.scenarios()["everything-on"])
    assert set(objects) >= OPTIONAL_KINDS
    deployment = _one(objects, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"].items()
    service = next(s for s in objects["Service"] if s["metadata"]["name"] == "llm-gateway")
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]
    monitor = _one(objects, "ServiceMonitor")
    service_labels = service["metadata"]["labels"].items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels
    endpoint = monitor["spec"]["endpoints"][0]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    pod_monitor = _one(objects, "PodMonitor")
    assert pod_monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels
    assert pod_monitor["spec"]["podMetricsEndpoints"][0]["port"] == "http"
    ingress = _one(objects, "Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "llm-gateway", "port": {"name": "http"}}
    assert ingress["spec"]["ingressClassName"] == "nginx"
    policies = {p["metadata"]["name"]: p["spec"] for p in objects["NetworkPolicy"]}
    gateway_policy, redis_policy = policies["llm-gateway"], policies["llm-gateway-redis"]
    assert gateway_policy["podSelector"]["matchLabels"].items() <= pod_labels
    assert gateway_policy["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert gateway_policy["policyTypes"] == ["Ingress", "Egress"]
    egress_ports = {p["port"] for rule in gateway_policy["egress"] for p in rule["ports"]}
    assert egress_ports == {53, 443, 6379}
    (allowed,) = redis_policy["ingress"][0]["from"]
    assert allowed["podSelector"]["matchLabels"].items() <= pod_labels


# --- values.schema.json -------------------------------------------------------------------


def _schema() -> dict[str, Any]:
    return json.loads((CHART / "values.schema.json").read_text("utf-8"))


def _values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text("utf-8"))


def test_values_yaml_and_every_ci_scenario_satisfy_the_schema() -> None:
    validator = jsonschema.Draft7Validator(_schema())
    validator.check_schema(_schema())
    assert list(validator.iter_errors(_values())) == []
    for values in check_chart.scenarios().values():
        assert list(validator.iter_errors(_merge(_values(), values))) == []


def _paths(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Every key of values.yaml under an object the schema describes property by property."""
    found = []
    for key, value in values.items():
        assert key in schema["properties"], f"{prefix}{key}: in values.yaml, not in the schema"
        child = schema["properties"][key]
        found.append(prefix + key)
        if isinstance(value, dict) and "properties" in child:
            found += _paths(value, child, f"{prefix}{key}.")
    return found


def test_the_schema_describes_every_value_and_allows_nothing_else() -> None:
    schema = _schema()
    paths = _paths(_values(), schema)
    expected = {"redis.auth.password", "secrets.existingSecretApiKeys", "serviceMonitor.labels"}
    assert expected <= set(paths)

    def closed(node: dict[str, Any], where: str) -> None:
        if "properties" in node:
            assert node.get("additionalProperties") is False, f"{where}: accepts unknown keys"
            for key, child in node["properties"].items():
                closed(child, f"{where}.{key}")

    closed(schema, "values")


@pytest.mark.parametrize(
    ("typo", "where"),
    [
        ({"replicaCont": 3}, "replicaCont"),
        ({"redis": {"urll": "redis://x:6379"}}, "urll"),
        ({"serviceMonitor": {"enable": True}}, "enable"),
        ({"secrets": {"existingSecretApiKeys": "environment"}}, "existingSecretApiKeys"),
        ({"env": {"LLM-GATEWAY-WORKERS": "2"}}, "LLM-GATEWAY-WORKERS"),
        (
            {"ingress": {"hosts": [{"host": "a", "paths": [{"path": "/", "pathtype": "Prefix"}]}]}},
            "pathtype",
        ),
    ],
)
def test_helm_refuses_a_typo_in_values(typo: dict[str, Any], where: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=where):
        check_chart.render(_merge(EXTERNAL_REDIS, KEYS_FILE, typo))


# --- Kubernetes schemas, lint -------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(check_chart.scenarios()))
def test_each_scenario_lints_and_its_objects_are_valid_kubernetes(scenario: str) -> None:
    values = check_chart.scenarios()[scenario]
    assert check_chart.lint_findings(values) == []
    assert check_chart.schema_errors(scenario, check_chart.render(values)) == []


def test_the_schema_check_catches_an_invalid_object() -> None:
    (deployment,) = _render(EXTERNAL_REDIS, KEYS_FILE)["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 7
    deployment["spec"]["replicas"] = "three"
    errors = check_chart.schema_errors("broken", [deployment])
    assert errors and all("Deployment/llm-gateway" in error for error in errors)


def test_the_plain_redis_manifest_is_valid_and_matches_the_example_secret() -> None:
    documents = list(yaml.safe_load_all((REPO / "deploy/k8s/redis/redis.yaml").read_text()))
    assert check_chart.schema_errors("redis.yaml", documents) == []
    service, statefulset = documents
    secret = yaml.safe_load((REPO / "deploy/k8s/examples/secret.yaml").read_text())
    (redis,) = statefulset["spec"]["template"]["spec"]["containers"]
    for entry in redis["env"]:
        assert _secret_ref(entry)["name"] == secret["metadata"]["name"]
        assert _secret_ref(entry)["key"] in secret["stringData"]
    url = secret["stringData"]["LLM_GATEWAY_REDIS_URL"]
    password = secret["stringData"]["REDIS_PASSWORD"]
    assert url == f"redis://:{password}@{service['metadata']['name']}:6379/0"
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()


def test_a_service_account_for_workload_identity() -> None:
    """IRSA, AKS workload identity and GKE Workload Identity read the pod's ServiceAccount
    (annotated with the cloud role) and, on AKS, a pod label; none by default."""
    assert "ServiceAccount" not in _render(EXTERNAL_REDIS, KEYS_FILE)
    default = _one(_render(EXTERNAL_REDIS, KEYS_FILE), "Deployment")["spec"]["template"]["spec"]
    assert "serviceAccountName" not in default
    annotations = {"azure.workload.identity/client-id": "00000000-0000-0000-0000-000000000000"}
    objects = _render(EXTERNAL_REDIS, KEYS_FILE, {
        "serviceAccount": {"create": True, "annotations": annotations},
        "podLabels": {"azure.workload.identity/use": "true"},
    })  # fmt: skip
    account = _one(objects, "ServiceAccount")
    pod = _one(objects, "Deployment")["spec"]["template"]
    assert account["metadata"]["annotations"] == annotations
    assert pod["spec"]["serviceAccountName"] == account["metadata"]["name"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    existing = _render(EXTERNAL_REDIS, KEYS_FILE, {"serviceAccount": {"name": "team-gateway"}})
    assert "ServiceAccount" not in existing
    spec = _one(existing, "Deployment")["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "team-gateway"
