"""No import cycle inside gateway-core: every module imports only modules that do not import it
back (directly or through others), TYPE_CHECKING imports included. Checked with grimp (the
graph import-linter builds) on the real tree, and proven to bite on a copy with a cycle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "packages/gateway-core/src/gateway_core"

_FIND_CYCLES = """
import json, grimp
graph = grimp.build_graph("gateway_core", cache_dir=None)
found = []
for module in sorted(graph.modules):
    for imported in sorted(graph.find_modules_directly_imported_by(module)):
        path = graph.find_shortest_chain(importer=imported, imported=module)
        if path is not None:
            found.append([module, *path])
print(json.dumps(found))
"""


def _cycles(python_path: Path | None = None) -> list[list[str]]:
    """Each cycle as a chain that starts and ends at the same module."""
    env = dict(os.environ)
    if python_path is not None:
        env["PYTHONPATH"] = str(python_path)
    result = subprocess.run(
        [sys.executable, "-c", _FIND_CYCLES],
        cwd=python_path or CORE, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_gateway_core_has_no_import_cycle() -> None:
    assert _cycles() == []


def test_the_check_finds_a_cycle(tmp_path: Path) -> None:
    shutil.copytree(CORE, tmp_path / "gateway_core", ignore=shutil.ignore_patterns("__pycache__"))
    # The cycle the tool loop had: its streaming side importing the loop back.
    stream = tmp_path / "gateway_core" / "use_cases" / "tool_loop_stream.py"
    stream.write_text(stream.read_text() + "\nimport gateway_core.use_cases.tool_loop\n")
    loop, stream_module = "gateway_core.use_cases.tool_loop", "gateway_core.use_cases.tool_loop_stream"
    assert [loop, stream_module, loop] in _cycles(tmp_path)
