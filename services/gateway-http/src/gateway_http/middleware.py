"""Request ids: every response carries ``x-request-id`` (the client's when sane, else new).

Done in a ``before_send`` hook rather than a middleware, because Litestar's router answers
unknown routes before any middleware runs, and those responses need the id too.
"""

from __future__ import annotations

import re

from litestar.types import Message, Scope

from gateway_http.ids import new_id

_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")
_STATE_KEY = "request_id"


def request_id(scope: Scope) -> str:
    """The request's id, decided once and kept in the scope's state."""
    state = scope.setdefault("state", {})
    existing = state.get(_STATE_KEY)
    if existing is not None:
        return existing
    chosen = None
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id" and _VALID_REQUEST_ID.match(value):
            chosen = value.decode()
            break
    state[_STATE_KEY] = chosen = chosen or new_id()
    return chosen


async def add_request_id(message: Message, scope: Scope) -> None:
    if message["type"] == "http.response.start":
        header = (b"x-request-id", request_id(scope).encode())
        message["headers"] = [*message.get("headers", ()), header]
