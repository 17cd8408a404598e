"""The GitHub Actions workflows and the scripts CI runs: the workflows parse and do what
docs/DEPLOYMENT.md says they do (actionlint checks them deeper in scripts/check-deploy), and uv
is pinned and syncs with --locked everywhere."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def _workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text("utf-8"))
    # YAML 1.1 (PyYAML) reads the key `on` as True.
    document["on"] = document.pop(True)
    return document


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def _uses(workflow: dict[str, Any]) -> list[str]:
    return [step["uses"] for step in _steps(workflow) if "uses" in step]


def _runs(workflow: dict[str, Any]) -> str:
    return "\n".join(step["run"] for step in _steps(workflow) if "run" in step)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_parses_into_jobs_with_steps(path: Path) -> None:
    workflow = _workflow(path.name)
    assert workflow["name"] and workflow["on"] and workflow["jobs"]
    assert workflow["permissions"]["contents"] == "read"
    for job in workflow["jobs"].values():
        assert job["runs-on"] and job["steps"] and job["timeout-minutes"] > 0
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step)
            if "uses" in step and not step["uses"].startswith("docker://"):
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v?[\d.]+", step["uses"]), step["uses"]


def test_the_workflows_cover_tests_lint_types_image_and_chart() -> None:
    assert {p.name for p in WORKFLOWS} == {"tests.yml", "lint.yml", "image.yml", "chart.yml"}
    tests = _workflow("tests.yml")
    (job,) = tests["jobs"].values()
    assert job["services"]["redis"]["image"].startswith("redis:")
    assert "./scripts/test" in _runs(tests)
    lint = _runs(_workflow("lint.yml"))
    assert "ruff check" in lint and "mypy" in lint and "./scripts/check-deploy" in lint
    chart = _runs(_workflow("chart.yml"))
    assert "helm lint --strict" in chart and "kubeconform -strict" in chart


def test_the_image_is_scanned_and_published_with_an_sbom_on_tags_only() -> None:
    image = _workflow("image.yml")
    uses = _uses(image)
    assert any(u.startswith("anchore/sbom-action@") for u in uses)
    assert any(u.startswith("aquasecurity/trivy-action@") for u in uses)
    scan = next(s for s in _steps(image) if s.get("uses", "").startswith("aquasecurity/"))
    assert scan["with"]["exit-code"] == "1"
    publish = next(s for s in _steps(image) if s.get("with", {}).get("push") is True)
    assert publish["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert publish["with"]["sbom"] is True and publish["with"]["provenance"] == "mode=max"
    assert image["env"]["IMAGE"].startswith("ghcr.io/")
    assert image["on"]["push"]["tags"] == ["v*"]


def _pinned_uv() -> str:
    text = (REPO / "scripts" / "bootstrap-uv.sh").read_text("utf-8")
    (version,) = re.findall(r"^LLM_GATEWAY_UV_VERSION=(\d+\.\d+\.\d+)$", text, re.M)
    assert '"uv==$LLM_GATEWAY_UV_VERSION"' in text
    return version


def test_the_bootstrap_pins_the_uv_the_dockerfile_uses() -> None:
    dockerfile = (REPO / "Dockerfile").read_text("utf-8")
    assert f"ARG UV_VERSION={_pinned_uv()}" in dockerfile


@pytest.mark.parametrize("path", ["scripts/test", ".ci/run", "Dockerfile"])
def test_uv_verifies_the_lock_against_pyproject(path: str) -> None:
    text = (REPO / path).read_text("utf-8")
    assert "--frozen" not in text
    assert re.search(r"uv (sync|run) --locked", text)


def test_ci_runs_the_deploy_checks_before_the_suite() -> None:
    lines = (REPO / ".ci" / "run").read_text("utf-8").splitlines()
    assert lines.index("./scripts/check-deploy") < lines.index(
        "./scripts/test -q -p no:cacheprovider"
    )
