"""Every fenced ``python`` block of docs/IN_PROCESS.md and docs/TESTING.md runs as written: each
in a fresh interpreter started in the repository (where ``config/`` is), with no ``LLM_GATEWAY_*`` setting from the environment, and must exit
cleanly (the examples assert what they claim)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(document: str) -> list[str]:
    return _BLOCK.findall((DOCS / document).read_text())


EXAMPLES = [
    pytest.param(block, id=f"{document}-{number}")
    for document in ("IN_PROCESS.md", "TESTING.md")
    for number, block in enumerate(python_blocks(document), start=1)
]


def test_the_documents_have_examples() -> None:
    assert len(python_blocks("IN_PROCESS.md")) >= 4
    assert len(python_blocks("TESTING.md")) >= 3


@pytest.mark.parametrize("code", EXAMPLES)
def test_example_runs(code: str) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("LLM_GATEWAY_")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=DOCS.parent, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
