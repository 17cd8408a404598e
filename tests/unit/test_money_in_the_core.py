"""The core never does float arithmetic on money: amounts are typed ``Money`` everywhere.

mypy (strict on the core, in ``.ci/run``) then refuses any float arithmetic on them, since
``Money`` adds only ``Money`` and multiplies only by ``int``. This test keeps the types honest:
no name that holds money is annotated with ``float`` (or ``Decimal``), and nothing in the core
turns money into a float (``to_float`` is the JSON edge's, in the service and the stores).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "packages" / "gateway-core" / "src" / "gateway_core"
ADAPTERS = ROOT / "packages" / "gateway-adapters" / "src" / "gateway_adapters"
MONEY_MODULE = CORE / "domain" / "money.py"

MONEY_NAME = re.compile(r"(^|_)(cost|costs|price|prices|budget_usd|spent|spend|usd|amount)($|_)")
"""Names that hold an amount of money (``cost_usd``, ``monthly_budget_usd``, ``spent``...)."""
NOT_MONEY = frozenset({"budget_ratio", "budget_window_seconds", "budget_min_retries"})
FORBIDDEN = re.compile(r"\b(float|Decimal)\b")


def _sources(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.py") if path != MONEY_MODULE)


def _annotated(tree: ast.AST) -> Iterator[tuple[str, ast.expr, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name | ast.Attribute):
            name = node.target.id if isinstance(node.target, ast.Name) else node.target.attr
            yield name, node.annotation, node.lineno
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                if argument.annotation is not None:
                    yield argument.arg, argument.annotation, node.lineno
            if node.returns is not None:
                yield node.name, node.returns, node.lineno


@pytest.mark.parametrize("root", [CORE, ADAPTERS], ids=["core", "adapters"])
def test_no_amount_of_money_is_typed_as_a_float(root: Path) -> None:
    found = []
    for path in _sources(root):
        for name, annotation, line in _annotated(ast.parse(path.read_text(encoding="utf-8"))):
            if name in NOT_MONEY or not MONEY_NAME.search(name):
                continue
            if FORBIDDEN.search(ast.unparse(annotation)):
                found.append(f"{path.relative_to(ROOT)}:{line} {name}: {ast.unparse(annotation)}")
    assert found == []


def test_the_core_never_turns_money_into_a_float() -> None:
    calls = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in _sources(CORE)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "to_float"
    ]
    assert calls == []


def test_the_scattered_picodollar_conversions_are_gone() -> None:
    sites = [
        f"{path.relative_to(ROOT)}"
        for root in (CORE, ADAPTERS, ROOT / "services" / "gateway-http" / "src")
        for path in root.rglob("*.py")
        if re.search(r"\b(to|from)_picodollars\b", path.read_text(encoding="utf-8"))
    ]
    assert sites == []


def test_the_checker_would_see_a_float_annotation() -> None:
    """The scan above is not vacuous: it does flag a money name typed as a float."""
    tree = ast.parse("def note(key_id: str, cost_usd: float) -> None: ...\nspent: float = 0.0\n")
    flagged = [
        name
        for name, annotation, _ in _annotated(tree)
        if MONEY_NAME.search(name) and FORBIDDEN.search(ast.unparse(annotation))
    ]
    assert flagged == ["cost_usd", "spent"]
