"""A request's headers and body read straight from ASGI, for the routes on the hot path.

Litestar's ``request.headers`` builds a case-insensitive multi-dict of every header on its
first read and finds it again through the scope's state on each later one; ``request.body()``
reads the ``Content-Length`` through those headers and the chunks through an async
generator. Together some 10 us of a JSON request, which reads five named headers and a body
that almost always arrives in one ASGI message. These functions answer the same (the first
value of a header, as ``Headers.get``; the body within the app's byte cap, ``413`` past it)
with one pass over the raw header list and one ``receive()``.
"""

from __future__ import annotations

import math
from typing import Any, cast

from litestar import Request
from litestar.exceptions import ClientException, InternalServerException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import Empty, Scope
from litestar.utils.scope.state import ScopeState

_HEADERS_KEY = "gateway_http.headers"


def header_values(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name, the first value of each; built once per
    request and kept in the scope."""
    mutable = cast("dict[str, Any]", scope)
    found: dict[str, str] | None = mutable.get(_HEADERS_KEY)
    if found is None:
        # Reversed, so that the first of repeated headers is the one kept.
        found = mutable[_HEADERS_KEY] = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in reversed(list(scope["headers"]))
        }
    return found


async def read_body(request: Request[Any, Any, Any]) -> bytes:
    """The whole body, as ``request.body()`` gives it, and kept where that looks first (so a
    later ``request.body()`` answers the same). ``413`` past the app's ``request_max_body_size``
    (announced or received); a client that left, or a body the server refused as late (its
    ``408``), ends the request as Litestar does."""
    state = ScopeState.from_scope(request.scope)
    kept = state.body
    if kept is not Empty:
        return kept
    if not request.is_connected:
        raise InternalServerException("stream consumed")
    cap = _body_cap(request)
    announced = header_values(request.scope).get("content-length")
    if announced is not None:
        try:
            too_large = int(announced) > cap
        except ValueError:
            raise ClientException(f"Invalid content-length: {announced!r}") from None
        if too_large:
            raise RequestEntityTooLarge
    receive = request.receive
    chunks: list[bytes] = []
    received = 0
    while True:
        event = await receive()
        if event["type"] == "http.request":
            chunk = event.get("body", b"")
            if chunk:
                received += len(chunk)
                if received > cap:  # counted on what arrives: a decompressing middleware may
                    raise RequestEntityTooLarge  # legitimately pass its Content-Length
                chunks.append(chunk)
            if not event.get("more_body", False):
                break
        elif event["type"] == "http.disconnect":
            raise InternalServerException("client disconnected prematurely")
    request.is_connected = False
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    state.body = body
    return body


def _body_cap(request: Request[Any, Any, Any]) -> float:
    """The route's ``request_max_body_size`` as Litestar resolves it; a raw ASGI route (a front
    door's ``POST``) has none of its own and takes the app's."""
    resolve = getattr(request.route_handler, "resolve_request_max_body_size", None)
    if resolve is not None:
        cap: int | None = resolve()
    else:  # the app's layer always holds a value (Litestar's default: 10 MB), never Empty
        cap = cast("int | None", request.app.request_max_body_size)
    return cap or math.inf
