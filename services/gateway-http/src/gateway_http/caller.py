"""Who is calling: the client key when authentication is on, else the client's address."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from gateway_core.errors import UnknownKeyError
from gateway_core.use_cases.authenticate import Authenticator
from gateway_core.use_cases.key_sync import KeySync
from gateway_core.use_cases.rate_limit import identity_for_address, identity_for_key
from gateway_core.use_cases.serve_chat import ChatCaller, ServeChat
from gateway_http.raw_request import header_values
from gateway_http.request_record import record_of

# Hashing a client address on every request is work a small cache saves.
_address_identity = lru_cache(maxsize=4096)(identity_for_address)


class Callers:
    """Tells who sent a request; 401 (OpenAI-shaped) for a missing, unknown or malformed key."""

    def __init__(self, authenticator: Authenticator | None, sync: KeySync | None = None) -> None:
        self._authenticator = authenticator
        self._sync = sync

    async def of(self, request: Request[Any, Any, Any]) -> ChatCaller:
        authenticator = self._authenticator
        if authenticator is None:
            address = request.client.host if request.client else "unknown"
            return ChatCaller(None, _address_identity(address))
        headers = header_values(request.scope)
        authorization, x_api_key = headers.get("authorization"), headers.get("x-api-key")
        try:
            key = authenticator.authenticate(authorization, x_api_key)
        except UnknownKeyError:
            # Perhaps made on another replica a moment ago: ask the shared store once.
            if self._sync is None or not await self._sync.refresh_for_unknown():
                raise
            key = authenticator.authenticate(authorization, x_api_key)
        record_of(request.scope).key_id = key.id
        return ChatCaller(key, identity_for_key(key.id))


@dataclass(frozen=True, slots=True)
class ChatApi:
    """Everything the chat route needs, as one dependency: Litestar resolves several
    dependencies of one route concurrently in a task group, which cost the hot path about a
    tenth of its CPU."""

    serve: ServeChat
    callers: Callers


async def resolve_caller(
    request: Request[Any, Any, Any], callers: NamedDependency[Callers]
) -> ChatCaller:
    """The ``caller`` dependency of the other routes."""
    return await callers.of(request)
