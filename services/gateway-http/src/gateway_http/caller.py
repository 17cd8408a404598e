"""Who is calling: the client key when authentication is on, else the client's address."""

from __future__ import annotations

from litestar import Request

from gateway_core.use_cases.authenticate import Authenticator
from gateway_core.use_cases.rate_limit import identity_for_address, identity_for_key
from gateway_core.use_cases.serve_chat import ChatCaller
from gateway_http.request_record import record_of


async def resolve_caller(request: Request, authenticator: Authenticator | None) -> ChatCaller:
    """A Litestar dependency: 401 (OpenAI-shaped) for a missing, unknown or malformed key."""
    if authenticator is None:
        address = request.client.host if request.client else "unknown"
        return ChatCaller(None, identity_for_address(address))
    headers = request.headers
    key = authenticator.authenticate(headers.get("authorization"), headers.get("x-api-key"))
    record_of(request.scope).key_id = key.id
    return ChatCaller(key, identity_for_key(key.id))
