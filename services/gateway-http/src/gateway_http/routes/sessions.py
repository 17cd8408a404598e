"""``/v1/sessions``: server-side conversation history (see docs/API.md, Sessions)."""

from __future__ import annotations

from litestar import Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from gateway_core.use_cases.serve_chat import ChatCaller
from gateway_core.use_cases.sessions import SessionService
from gateway_http.media import require_json
from gateway_http.schemas.sessions import decode_create_session, session_body


@post("/v1/sessions", status_code=201)
async def create_session(
    request: Request, sessions: NamedDependency[SessionService], caller: NamedDependency[ChatCaller]
) -> dict:
    require_json(request)
    body = decode_create_session(await request.body())
    session = await sessions.create(caller.owner, body.ttl_seconds, body.context, body.metadata)
    return session_body(session)


@get("/v1/sessions/{session_id:str}")
async def read_session(
    session_id: FromPath[str],
    sessions: NamedDependency[SessionService],
    caller: NamedDependency[ChatCaller],
) -> dict:
    return session_body(await sessions.get(session_id, caller.owner))


@delete("/v1/sessions/{session_id:str}", status_code=204)
async def delete_session(
    session_id: FromPath[str],
    sessions: NamedDependency[SessionService],
    caller: NamedDependency[ChatCaller],
) -> None:
    await sessions.delete(session_id, caller.owner)
