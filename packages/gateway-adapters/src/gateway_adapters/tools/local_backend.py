"""Tools that run in process: Python callables registered by name, and the two shipped ones.

``calculator`` parses arithmetic with ``ast`` and walks only numbers, ``+ - * / // % **``,
unary ``-``/``+`` and parentheses: no names, calls or attributes, so nothing but arithmetic
can run. Sizes are bounded (expression length, exponent, integer bits) so that a call cannot
eat the server's CPU or memory.
"""

from __future__ import annotations

import ast
import inspect
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from gateway_core.errors import GatewayError, ToolExecutionError

LocalFunction = Callable[[Mapping[str, Any]], Any]
"""Takes the validated arguments; returns a JSON-ready value (or an awaitable of one)."""


class LocalToolBackend:
    """A ``ToolBackend`` over in-process functions, keyed by tool name."""

    def __init__(self, functions: Mapping[str, LocalFunction], name: str = "local") -> None:
        self.name = name
        self._functions = dict(functions)

    async def execute(self, tool_name: str, arguments: Mapping[str, Any]) -> Any:
        function = self._functions.get(tool_name)
        if function is None:
            raise ToolExecutionError(f"The tool '{tool_name}' has no local function.")
        try:
            result = function(arguments)
            if inspect.isawaitable(result):
                result = await result
        except GatewayError:
            raise
        except Exception as error:
            # Its text may be anything: the class name is enough for the model and the client.
            raise ToolExecutionError(
                f"The tool '{tool_name}' failed ({type(error).__name__})."
            ) from error
        return result


def echo(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Return the text it was given: a tool to see the loop work."""
    return {"text": arguments.get("text", "")}


MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 1000
MAX_INTEGER_BITS = 4096

Number = int | float | complex
_BINARY: Mapping[type[ast.operator], Callable[[Any, Any], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: Mapping[type[ast.unaryop], Callable[[Any], Number]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def calculate(arguments: Mapping[str, Any]) -> dict[str, Any]:
    expression = str(arguments.get("expression", ""))
    return {"expression": expression, "result": evaluate(expression)}


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic expression; ``ToolExecutionError`` for anything else."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolExecutionError(f"The expression is over {MAX_EXPRESSION_CHARS} characters.")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError):
        raise ToolExecutionError("The expression is not valid arithmetic.") from None
    try:
        value = _evaluate(tree.body)
    except ZeroDivisionError:
        raise ToolExecutionError("Division by zero.") from None
    except OverflowError:
        raise ToolExecutionError("The result is too large.") from None
    except RecursionError:
        raise ToolExecutionError("The expression is nested too deeply.") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolExecutionError("The result is not a finite number.")
    return value


def _evaluate(node: ast.expr) -> int | float:
    if isinstance(node, ast.Constant):
        # bool is an int subclass and complex is a number: neither is arithmetic input here.
        value = node.value
        if type(value) is int or type(value) is float:
            return value
        raise ToolExecutionError("Only numbers may appear in the expression.")
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _checked(_UNARY[type(node.op)](_evaluate(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _checked(_BINARY[type(node.op)](left, right))
    raise ToolExecutionError(
        "Only numbers, + - * / // % **, unary minus and parentheses are allowed."
    )


def _check_power(base: int | float, exponent: int | float) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise ToolExecutionError(f"Exponents are limited to ±{MAX_EXPONENT}.")
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 0:
        return
    if base.bit_length() * exponent > MAX_INTEGER_BITS:
        raise ToolExecutionError("The result is too large.")


def _checked(value: Number) -> int | float:
    if isinstance(value, complex):  # (-8) ** 0.5
        raise ToolExecutionError("The result is not a real number.")
    if isinstance(value, int) and value.bit_length() > MAX_INTEGER_BITS:
        raise ToolExecutionError("The result is too large.")
    return value


BUILTIN_FUNCTIONS: Mapping[str, LocalFunction] = {"echo": echo, "calculator": calculate}
"""The local functions ``config/tools.json`` can name (``"function": "calculator"``)."""
