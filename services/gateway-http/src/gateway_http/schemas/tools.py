"""``POST /v1/tools/execute`` bodies. Both spellings consumers use are accepted."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct

from gateway_core.domain.tool_registry import ToolResult
from gateway_core.errors import InvalidRequestError
from gateway_http.schemas.json_body import decode_body


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
    return decode_body(_decoder, raw)


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
