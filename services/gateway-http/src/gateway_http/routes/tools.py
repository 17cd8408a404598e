"""``GET /v1/tools`` and ``POST /v1/tools/execute`` (status rules in docs/API.md, Tools); the
``POST`` is a raw ASGI route (``routes/raw_post.py``)."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.di import NamedDependency

from gateway_core.use_cases.execute_tool import ExecuteTool
from gateway_core.use_cases.serve_chat import ChatCaller
from gateway_http.caller import Callers
from gateway_http.media import require_json
from gateway_http.raw_request import read_body
from gateway_http.routes.raw_post import app_dependency, raw_post
from gateway_http.schemas.tools import decode_execute_tool, tool_result_body


@get("/v1/tools")
async def list_tools(request: Request, caller: NamedDependency[ChatCaller]) -> list[dict]:
    execute_tool: ExecuteTool = await app_dependency(request, "execute_tool")
    return [
        {"name": spec.name, "description": spec.description, "parameters": spec.parameters}
        for spec in execute_tool.tools()
    ]


@raw_post("/v1/tools/execute", "execute_tool", "callers", name="execute_tool_route")
async def execute_tool_route(
    request: Request, execute_tool: ExecuteTool, callers: Callers
) -> Response[dict]:
    await callers.of(request)  # who calls: a key when authentication is on
    require_json(request)
    body = decode_execute_tool(await read_body(request))
    result = await execute_tool.execute(body.tool, body.arguments or {}, body.tool_call_id)
    return Response(tool_result_body(result))
