"""A streamed response's body chunks written straight to the client's connection.

The relayed stream's middle events (``gateway_core.domain.relay_tap``) skip the layers of a
normal ``send``: Litestar's ``before_send`` wrapper, the request observer, uvicorn's ASGI
``send`` coroutine and its message dict. Each event is framed as uvicorn frames a body
chunk (``transfer-encoding: chunked``) and written to the transport, exactly the bytes
uvicorn would have written. The writer declines (returns ``False``, writes nothing) whenever
uvicorn's own ``send`` would do something else than write: the transport is paused by the
client's flow control (``send`` would wait for it to drain), the client is gone, the response
is complete, or the response is not chunked; the event then goes the ordinary way.

It relies on uvicorn's httptools protocol, as ``server_limits`` does: the request's ``send``
is its ``RequestResponseCycle.send``, saved in the scope by ``GuardedHttpToolsProtocol``.
Under any other server or protocol there is no writer and every event takes ``send``.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from gateway_core.domain.relay_tap import BodyWriter

UVICORN_SEND = "gateway.uvicorn_send"
"""Scope key: the ``send`` uvicorn gave the request (``GuardedHttpToolsProtocol``)."""


def body_writer(scope: Any) -> BodyWriter | None:
    """A writer of body chunks for the response under way on ``scope``'s connection, if
    its head is out and it is chunked; else ``None``."""
    cycle = getattr(scope.get(UVICORN_SEND), "__self__", None)
    if (
        type(cycle) is not RequestResponseCycle
        or not cycle.response_started
        or cycle.response_complete
        or cycle.chunked_encoding is not True
    ):
        return None
    transport, flow = cycle.transport, cycle.flow

    def write(body: bytes) -> bool:
        if (
            flow.write_paused
            or cycle.disconnected
            or cycle.response_complete
            or transport.is_closing()
        ):
            return False
        transport.write(b"%x\r\n%b\r\n" % (len(body), body))
        return True

    return write
