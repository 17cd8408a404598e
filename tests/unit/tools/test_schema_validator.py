"""JSON Schema validation of tool arguments: the failing argument's path is named."""

from __future__ import annotations

from typing import Any

import pytest

from gateway_adapters.tools import JsonSchemaArgumentsValidator
from gateway_core.domain.tool_registry import RegisteredTool
from gateway_core.errors import ToolArgumentsError

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1},
        "top_k": {"type": "integer", "minimum": 1, "maximum": 100},
        "filters": {
            "type": "object",
            "properties": {
                "year": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "range": {
                    "type": "object",
                    "properties": {"from": {"type": "integer"}},
                    "required": ["from"],
                },
            },
            "additionalProperties": False,
        },
    },
    "required": ["query"],
}
TOOL = RegisteredTool("search", "Search.", SCHEMA, "remote")


def _param(arguments: Any) -> str | None:
    with pytest.raises(ToolArgumentsError) as raised:
        JsonSchemaArgumentsValidator().validate(TOOL, arguments)
    assert raised.value.code == "invalid_tool_arguments"
    assert "search" in raised.value.message
    return raised.value.param


def test_valid_arguments_pass() -> None:
    arguments = {"query": "x", "top_k": 5, "filters": {"year": 2020, "range": {"from": 1}}}
    JsonSchemaArgumentsValidator().validate(TOOL, arguments)


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"query": "x", "top_k": 0}, "top_k"),
        ({"query": "x", "top_k": "5"}, "top_k"),
        ({"query": ""}, "query"),
        ({"top_k": 5}, "query"),
        ({"query": "x", "filters": {"year": "2020"}}, "filters.year"),
        ({"query": "x", "filters": {"tags": ["a", 3]}}, "filters.tags.1"),
        ({"query": "x", "filters": {"range": {}}}, "filters.range.from"),
        ({"query": "x", "filters": {"colour": "red"}}, "filters.colour"),
        (["not", "an", "object"], None),
    ],
)
def test_the_failing_argument_path_is_the_param(arguments: Any, param: str | None) -> None:
    assert _param(arguments) == param


def test_a_missing_argument_is_named_in_the_message() -> None:
    with pytest.raises(ToolArgumentsError) as raised:
        JsonSchemaArgumentsValidator().validate(TOOL, {})
    assert raised.value.message == "Missing required argument 'query' for tool 'search'."


def test_a_huge_value_does_not_make_a_huge_message() -> None:
    with pytest.raises(ToolArgumentsError) as raised:
        JsonSchemaArgumentsValidator().validate(TOOL, {"query": "x", "top_k": "9" * 5000})
    assert len(raised.value.message) <= 300


def test_a_tool_registered_again_with_another_schema_is_checked_against_the_new_one() -> None:
    validator = JsonSchemaArgumentsValidator()
    validator.validate(TOOL, {"query": "x"})
    stricter = RegisteredTool("search", "", {**SCHEMA, "required": ["query", "top_k"]}, "r")
    with pytest.raises(ToolArgumentsError):
        validator.validate(stricter, {"query": "x"})
