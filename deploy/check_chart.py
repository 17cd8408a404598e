"""Lint and render the Helm chart offline, then check every object against Kubernetes' schemas.

    uv run python deploy/check_chart.py

Helm here is Helm's own Go engine (v4), loaded from the helm-python-sdk wheel: there is no
helm binary to download from a registry, and a Python re-implementation of Go templates
would check a different renderer than the one operators run. The chart is rendered with its
default values plus each file under deploy/helm/llm-gateway/ci/ (the chart-testing layout),
and the objects, together with deploy/k8s/, pass `kubernetes-validate --strict` for the oldest
and newest Kubernetes versions named below. Prometheus Operator objects are CRDs with no
schema bundled here; they are listed as not validated.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "deploy" / "helm" / "llm-gateway"
K8S = REPO / "deploy" / "k8s"
KUBERNETES_VERSIONS = ("1.28.0", "1.37.0")
# Custom resources: the kinds kubernetes-validate has no schema for.
CRD_KINDS = {"ServiceMonitor", "PodMonitor"}
RELEASE = {"name": "llm-gateway", "namespace": "llm-gateway"}


def scenarios() -> dict[str, dict[str, Any]]:
    """Values to render with, by name: each ci/*-values.yaml file."""
    return {
        path.name.removesuffix("-values.yaml"): yaml.safe_load(path.read_text("utf-8")) or {}
        for path in sorted((CHART / "ci").glob("*-values.yaml"))
    }


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The chart's objects for these values (NOTES.txt left out)."""
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(values, **RELEASE)
    documents = []
    for name, text in sorted(manifests.items()):
        if name.endswith(".yaml"):
            documents += [d for d in yaml.safe_load_all(text) if d]
    return documents


def lint_findings(values: dict[str, Any]) -> list[str]:
    """`helm lint --strict` with these values: its warnings and errors (INFO is ignored)."""
    result = helm.lint(str(CHART), values, strict=True, namespace=RELEASE["namespace"])
    return [
        f"{m['path']}: {m['error']}" for m in result.get("messages", []) if m["severity"] > 1
    ] + list(result.get("errors", []))


def schema_errors(source: str, documents: list[dict[str, Any]]) -> list[str]:
    errors = []
    for document in documents:
        kind, name = document.get("kind"), document.get("metadata", {}).get("name")
        if kind in CRD_KINDS:
            print(f"  {source}: {kind}/{name}: custom resource, not validated")
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(document, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                errors.append(f"{source}: {kind}/{name} (k8s {version}): {error.message}")
    return errors


def main() -> int:
    problems = []
    for name, values in scenarios().items():
        problems += [f"helm lint [{name}]: {finding}" for finding in lint_findings(values)]
        documents = render(values)
        kinds = sorted(d["kind"] for d in documents)
        print(f"chart with ci/{name}-values.yaml: {len(documents)} objects ({', '.join(kinds)})")
        problems += schema_errors(f"chart[{name}]", documents)
    for path in sorted(K8S.rglob("*.yaml")):
        documents = [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d]
        problems += schema_errors(str(path.relative_to(REPO)), documents)
    print(f"deploy/k8s: {len(list(K8S.rglob('*.yaml')))} files")
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
