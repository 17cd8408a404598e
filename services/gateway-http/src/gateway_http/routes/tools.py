"""``GET /v1/tools`` and ``POST /v1/tools/execute`` (status rules in docs/API.md, Tools)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.di import NamedDependency

from gateway_core.use_cases.execute_tool import ExecuteTool
from gateway_core.use_cases.serve_chat import ChatCaller
from gateway_http.media import require_json
from gateway_http.schemas.tools import decode_execute_tool, tool_result_body


@get("/v1/tools")
async def list_tools(
    execute_tool: NamedDependency[ExecuteTool], caller: NamedDependency[ChatCaller]
) -> list[dict]:
    return [
        {"name": spec.name, "description": spec.description, "parameters": spec.parameters}
        for spec in execute_tool.tools()
    ]


@post("/v1/tools/execute", status_code=200)
async def execute_tool_route(
    request: Request,
    execute_tool: NamedDependency[ExecuteTool],
    caller: NamedDependency[ChatCaller],
) -> dict:
    require_json(request)
    body = decode_execute_tool(await request.body())
    result = await execute_tool.execute(body.tool, body.arguments or {}, body.tool_call_id)
    return tool_result_body(result)
