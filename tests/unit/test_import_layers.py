"""The hexagon's import directions, checked by import-linter on the real tree, and proof that
the check bites: a copy of the core that imports litestar (or pydantic) must fail it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE_SOURCES = {
    "gateway_core": REPO / "packages/gateway-core/src/gateway_core",
    "gateway_adapters": REPO / "packages/gateway-adapters/src/gateway_adapters",
    "gateway_http": REPO / "services/gateway-http/src/gateway_http",
}


def _lint_imports(python_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if python_path is not None:
        env["PYTHONPATH"] = str(python_path)
    command = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"]
    return subprocess.run(
        [*command, str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=python_path or REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_real_tree_keeps_the_layers() -> None:
    result = _lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("framework", ["litestar", "pydantic"])
def test_a_core_module_importing_a_framework_breaks_the_check(
    tmp_path: Path, framework: str
) -> None:
    for name, source in PACKAGE_SOURCES.items():
        shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "gateway_core" / "leak.py").write_text(f"import {framework}\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert f"gateway_core.leak -> {framework}" in result.stdout
