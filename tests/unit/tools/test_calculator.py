"""The local calculator: arithmetic only, bounded, never eval."""

from __future__ import annotations

import pytest

from gateway_adapters.tools import LocalToolBackend, calculate
from gateway_adapters.tools.local_backend import evaluate
from gateway_core.errors import ToolExecutionError


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("2 ** 10", 1024),
        ("-(3 - 5)", 2),
        ("+4", 4),
        ("1.5e2 + 0.5", 150.5),
        ("2 ** -1", 0.5),
    ],
)
def test_it_evaluates_arithmetic(expression: str, value: float) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "abs(-1)",
        "x + 1",
        "(1).__class__",
        "[1, 2]",
        "1 if 1 else 2",
        "True + 1",
        "1j * 2",
        "'a' * 3",
        "1 << 8",
        "lambda: 1",
        "",
        "1 +",
    ],
)
def test_anything_but_arithmetic_is_refused(expression: str) -> None:
    with pytest.raises(ToolExecutionError):
        evaluate(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 / 0", "Division by zero."),
        ("10 ** 5000", "Exponents are limited"),
        ("(10 ** 900) ** 900", "too large"),
        ("99999 ** 999", "too large"),
        ("((2 ** 1000) ** 4) * (2 ** 1000)", "too large"),
        ("1e308 * 10", "not a finite number"),
        ("2.0 ** 999 * 2.0 ** 999", "not a finite number"),
        ("(-8) ** 0.5", "not a real number"),
        ("1" + "+1" * 300, "over 500 characters"),
    ],
)
def test_sizes_are_bounded(expression: str, message: str) -> None:
    with pytest.raises(ToolExecutionError) as raised:
        evaluate(expression)
    assert message in raised.value.message


async def test_the_backend_reports_failures_as_tool_execution_errors() -> None:
    backend = LocalToolBackend({"calculator": calculate})
    assert await backend.execute("calculator", {"expression": "6 * 7"}) == {
        "expression": "6 * 7",
        "result": 42,
    }
    with pytest.raises(ToolExecutionError, match="Division by zero"):
        await backend.execute("calculator", {"expression": "1 % 0"})


async def test_an_unexpected_exception_is_a_tool_failure_without_its_text() -> None:
    def broken(arguments: object) -> None:
        raise KeyError("secret-internal-detail")

    backend = LocalToolBackend({"broken": broken})
    with pytest.raises(ToolExecutionError) as raised:
        await backend.execute("broken", {})
    assert "KeyError" in raised.value.message
    assert "secret" not in raised.value.message


async def test_async_local_functions_are_awaited() -> None:
    async def later(arguments: object) -> str:
        return "later"

    assert await LocalToolBackend({"later": later}).execute("later", {}) == "later"
