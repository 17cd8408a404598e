"""``/v1/sessions``: server-side conversation history (see docs/API.md, Sessions); the ``POST``
is a raw ASGI route (``routes/raw_post.py``)."""

from __future__ import annotations

from litestar import Request, Response, delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from gateway_core.use_cases.serve_chat import ChatCaller
from gateway_core.use_cases.sessions import SessionService
from gateway_http.caller import Callers
from gateway_http.media import require_json
from gateway_http.raw_request import read_body
from gateway_http.routes.raw_post import app_dependency, raw_post
from gateway_http.schemas.sessions import decode_create_session, session_body


@raw_post("/v1/sessions", "sessions", "callers", name="create_session")
async def create_session(
    request: Request, sessions: SessionService, callers: Callers
) -> Response[dict]:
    caller = await callers.of(request)
    require_json(request)
    body = decode_create_session(await read_body(request))
    session = await sessions.create(caller.owner, body.ttl_seconds, body.context, body.metadata)
    return Response(session_body(session), status_code=201)


@get("/v1/sessions/{session_id:str}")
async def read_session(
    session_id: FromPath[str], request: Request, caller: NamedDependency[ChatCaller]
) -> dict:
    sessions: SessionService = await app_dependency(request, "sessions")
    return session_body(await sessions.get(session_id, caller.owner))


@delete("/v1/sessions/{session_id:str}", status_code=204)
async def delete_session(
    session_id: FromPath[str], request: Request, caller: NamedDependency[ChatCaller]
) -> None:
    sessions: SessionService = await app_dependency(request, "sessions")
    await sessions.delete(session_id, caller.owner)
