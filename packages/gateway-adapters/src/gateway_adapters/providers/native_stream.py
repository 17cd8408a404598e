"""A vendor's SSE stream relayed event by event, with the usage read on the way.

Shared by the native front-door adapters: each event is re-encoded whole (``event:`` and
``data:`` lines and the blank line), so the client gets the vendor's events unchanged, and a
vendor-specific ``watch`` function reads usage and model from the events that carry them
(only those: ``watched`` names them), and a vendor-specific ``count`` the output its delta
events carry (``output_chars``, for the door's output cap: ``counted`` names them; each is
decoded into only the fields it counts). The other events are passed on undecoded.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import msgspec

from gateway_adapters.http1 import Http1Client, Response, Target, Timeouts
from gateway_adapters.providers.http_errors import TRANSPORT_FAILURES, transport_error
from gateway_adapters.providers.sse import ServerSentEvent, iter_sse
from gateway_core.domain.usage import Usage
from gateway_core.errors import ProviderError

Watch = Callable[["RelayedStream", str, Mapping[str, Any]], None]
Count = Callable[[str], int]
"""An output delta event's data -> the characters of output it carries."""
ErrorFor = Callable[[int, bytes, Mapping[str, str]], ProviderError]
Decode = Callable[[AsyncIterable[bytes]], AsyncIterator[ServerSentEvent]]
"""The body's bytes -> its events: SSE, or a vendor's own framing (Bedrock's event stream)."""


async def read_answer(
    client: Http1Client,
    target: Target,
    body: bytes,
    timeout: Timeouts,
    error_for: ErrorFor,
    provider: str,
) -> bytes:
    """A native call answered whole: the vendor's body, or its error (a status of 300 and
    above through ``error_for``, a transport failure as the gateway's own)."""
    try:
        async with client.post(target, body, timeout) as response:
            raw = await response.read()
            if response.status >= 300:
                raise error_for(response.status, raw, response.headers)
    except TRANSPORT_FAILURES as error:
        raise transport_error(error, provider) from error
    return raw


class RelayedStream:
    """A ``NativeStream``: iterate it for the vendor's events, as bytes."""

    def __init__(
        self,
        opened: AbstractAsyncContextManager[Response],
        *,
        provider: str,
        watch: Watch,
        error_for: ErrorFor,
        model: str,
        decode: Decode = iter_sse,
        watched: frozenset[str] | None = None,
        count: Count | None = None,
        counted: frozenset[str] = frozenset(),
    ) -> None:
        self.usage = Usage()
        self.model = model
        self.output_chars = 0
        self.final: Mapping[str, Any] | None = None
        self._opened = opened
        self._provider = provider
        self._watch = watch
        self._decode = decode
        self._error_for = error_for
        self._watched = watched
        self._count = count
        self._counted = counted
        self._events = self._relay()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._events

    async def aclose(self) -> None:
        await self._events.aclose()

    async def _relay(self) -> AsyncGenerator[bytes, None]:
        try:
            async with self._opened as response:
                if response.status >= 300:
                    raw = await response.read()
                    raise self._error_for(response.status, raw, response.headers)
                watched, count, counted = self._watched, self._count, self._counted
                async for event in self._decode(response.iter_chunks()):
                    name = event.event
                    if name in counted and count is not None:
                        self.output_chars += count(event.data)
                    # A named event the watcher ignores (a ping, a repeat) is not decoded.
                    elif event.data and (watched is None or name in watched or name == "message"):
                        self._read(name, event.data)
                    yield _encoded(event.event, event.data)
        except TRANSPORT_FAILURES as error:
            raise transport_error(error, self._provider) from error

    def _read(self, name: str, data: str) -> None:
        try:
            payload = msgspec.json.decode(data)
        except msgspec.DecodeError:
            return  # relayed as sent; the client's SDK judges it
        if isinstance(payload, dict):
            self._watch(self, name, payload)


def _encoded(name: str, data: str) -> bytes:
    head = b"" if name == "message" else b"event: " + name.encode() + b"\n"
    lines = b"".join(b"data: " + line.encode() + b"\n" for line in data.split("\n"))
    return head + lines + b"\n"
