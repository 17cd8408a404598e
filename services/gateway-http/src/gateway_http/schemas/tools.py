"""``POST /v1/tools/execute`` bodies. Both spellings consumers use are accepted."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct

from gateway_core.domain.tool_registry import ToolResult
from gateway_core.errors import InvalidRequestError


class ExecuteToolBody(Struct, kw_only=True):
    name: str | None = None
    tool_name: str | None = None
    arguments: dict[str, Any] | None = None
    tool_call_id: str | None = None

    @property
    def tool(self) -> str:
        chosen = self.name or self.tool_name
        if not chosen:
            raise InvalidRequestError("Name the tool in 'name' (or 'tool_name').", param="name")
        return chosen


_decoder = msgspec.json.Decoder(ExecuteToolBody)


def decode_execute_tool(raw: bytes) -> ExecuteToolBody:
    try:
        return _decoder.decode(raw)
    except msgspec.ValidationError as error:
        raise InvalidRequestError(str(error), param=_error_path(str(error))) from None
    except msgspec.DecodeError as error:
        message = f"The request body is not valid JSON: {error}"
        raise InvalidRequestError(message, code="invalid_json") from None


def _error_path(message: str) -> str | None:
    """msgspec ends messages with `- at `$.arguments``; return ``arguments``."""
    marker = "- at `$."
    start = message.rfind(marker)
    if start == -1:
        return None
    return message[start + len(marker) :].rstrip("`") or None


def tool_result_body(result: ToolResult) -> dict[str, Any]:
    body = {
        "name": result.name,
        "result": result.result,
        "success": result.success,
        "error": result.error,
    }
    if result.tool_call_id is not None:
        body["tool_call_id"] = result.tool_call_id
    return body
