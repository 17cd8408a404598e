"""Tool arguments checked against the tool's JSON Schema (Draft 2020-12) with ``jsonschema``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from gateway_core.domain.tool_registry import RegisteredTool
from gateway_core.errors import ToolArgumentsError

_MAX_MESSAGE = 300


def check_schema(schema: Mapping[str, Any]) -> None:
    """Raise ``jsonschema.SchemaError`` unless ``schema`` is a valid Draft 2020-12 schema."""
    Draft202012Validator.check_schema(schema)


class JsonSchemaArgumentsValidator:
    """An ``ArgumentsValidator``; compiled validators are cached per tool."""

    def __init__(self) -> None:
        self._compiled: dict[str, tuple[Mapping[str, Any], Draft202012Validator]] = {}

    def validate(self, tool: RegisteredTool, arguments: Mapping[str, Any]) -> None:
        error = best_match(self._validator(tool).iter_errors(arguments))
        if error is None:
            return
        param = _failing_path(error)
        raise ToolArgumentsError(_message(error, param, tool.name), param=param)

    def _validator(self, tool: RegisteredTool) -> Draft202012Validator:
        cached = self._compiled.get(tool.name)
        # Keyed by name, checked by identity: a registry rebuilt with a new schema recompiles.
        if cached is not None and cached[0] is tool.parameters:
            return cached[1]
        validator = Draft202012Validator(tool.parameters)
        self._compiled[tool.name] = (tool.parameters, validator)
        return validator


def _failing_path(error: ValidationError) -> str | None:
    """The argument's path joined by ``.``; a missing or unexpected property's own path."""
    parts = [str(part) for part in error.absolute_path]
    culprit = _culprit_property(error)
    if culprit is not None:
        parts.append(culprit)
    return ".".join(parts) or None


def _culprit_property(error: ValidationError) -> str | None:
    instance = error.instance
    if not isinstance(instance, Mapping):
        return None
    if error.validator == "required" and isinstance(error.validator_value, list):
        return next((name for name in error.validator_value if name not in instance), None)
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        return next((name for name in instance if name not in known), None)
    return None


def _message(error: ValidationError, param: str | None, tool_name: str) -> str:
    if error.validator == "required" and param:
        text = f"Missing required argument '{param}' for tool '{tool_name}'."
    elif error.validator == "additionalProperties" and param:
        text = f"Unexpected argument '{param}' for tool '{tool_name}'."
    elif param is None:
        text = f"Invalid arguments for tool '{tool_name}': {error.message}"
    else:
        text = f"Invalid argument '{param}' for tool '{tool_name}': {error.message}"
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."
