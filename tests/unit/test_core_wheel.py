"""A new project can install the gateway-core wheel and follow docs/IN_PROCESS.md: the wheel is
built (``uv build``), installed into a fresh virtualenv with nothing else (offline, no index:
gateway-core has no runtime dependencies), and runs the document's first example there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.unit.test_docs_examples import python_blocks

REPO = Path(__file__).resolve().parents[2]


def _uv() -> str:
    # ``uv run`` names itself in $UV; scripts/test puts uv on PATH (or in .tools/uv).
    found = (
        os.environ.get("UV")
        or shutil.which("uv")
        or shutil.which("uv", path=str(REPO / ".tools" / "uv" / "bin"))
    )
    assert found is not None, "uv is needed to build the wheel"
    return found


def _run(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("VIRTUAL_ENV")}
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    return result


def test_the_wheel_installs_alone_and_runs_the_in_process_example(tmp_path: Path) -> None:
    uv, dist, venv = _uv(), tmp_path / "dist", tmp_path / "venv"
    _run(uv, "build", "--offline", "--package", "gateway-core", "--wheel", "-o", str(dist), cwd=REPO)
    [wheel] = dist.glob("gateway_core-*.whl")
    _run(uv, "venv", "--offline", "--python", sys.executable, str(venv), cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(uv, "pip", "install", "--offline", "--no-index", "--python", str(python), str(wheel),
         cwd=tmp_path)  # fmt: skip
    installed = _run(str(python), "-c", "import gateway_core; print(gateway_core.__file__)", cwd=tmp_path)
    assert str(venv) in installed.stdout, "the example must run against the wheel, not the tree"
    example = python_blocks("IN_PROCESS.md")[0]
    ran = _run(str(python), "-c", example, cwd=tmp_path)
    assert "Hello from the model." in ran.stdout
