"""A vendor's SSE stream relayed as its events arrive, with the usage read on the way.

Shared by the native front-door adapters: each event is re-encoded whole (``event:`` and
``data:`` lines and the blank line), so the client gets the vendor's events unchanged. A
vendor-specific ``watch`` function reads usage and model from the events that carry them
(only those: ``watched`` names them), and a vendor-specific ``count`` the output its delta
events carry (``output_chars``, for the door's output cap: ``counted`` names them; each is
decoded into only the fields it counts). The other events are passed on undecoded.

The events one read brings leave together, as one piece: one write to the client and one step
through the door's relay, not one per event (a fast vendor's whole answer often comes in one
read). The stream's first event leaves alone, as soon as it is read. The door's output cap
(``cap_output``) is checked after each event, so a piece still ends exactly before the event
that passes it.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager
from typing import Any

import msgspec

from gateway_adapters.http1 import Http1Client, Response, Target, Timeouts
from gateway_adapters.providers.http_errors import TRANSPORT_FAILURES, transport_error
from gateway_adapters.providers.sse import ServerSentEvent, iter_sse_reads
from gateway_core.domain.usage import Usage
from gateway_core.errors import ProviderError

Watch = Callable[["RelayedStream", str, Mapping[str, Any]], None]
Count = Callable[[str], int]
"""An output delta event's data -> the characters of output it carries."""
ErrorFor = Callable[[int, bytes, Mapping[str, str]], ProviderError]
Decode = Callable[[AsyncIterable[bytes]], AsyncIterator[Sequence[ServerSentEvent]]]
"""The body's bytes -> its events, in the groups relayed together (those of one read): SSE,
or a vendor's own framing (Bedrock's event stream)."""
OutputCheck = Callable[[int, int], None]
"""(output characters, output tokens reported) -> raises once they pass the door's cap."""


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
    """A ``NativeStream``: iterate it for the vendor's events, as bytes (one or more whole
    events a piece)."""

    def __init__(
        self,
        opened: AbstractAsyncContextManager[Response],
        *,
        provider: str,
        watch: Watch,
        error_for: ErrorFor,
        model: str,
        decode: Decode = iter_sse_reads,
        watched: frozenset[str] | None = None,
        count: Count | None = None,
        counted: frozenset[str] = frozenset(),
    ) -> None:
        self.usage = Usage()
        self.model = model
        self.output_chars = 0
        self.event_count = 0
        self.final: Mapping[str, Any] | None = None
        self._check: OutputCheck | None = None
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

    def cap_output(self, check: OutputCheck) -> None:
        """``NativeStream.cap_output``: ``check`` runs after each event read from now on."""
        self._check = check

    async def _relay(self) -> AsyncGenerator[bytes, None]:
        try:
            async with self._opened as response:
                if response.status >= 300:
                    raw = await response.read()
                    raise self._error_for(response.status, raw, response.headers)
                async for events in self._decode(response.iter_chunks()):
                    piece: list[bytes] = []
                    try:
                        for event in events:
                            encoded = self._relayed(event)
                            if self._check is not None:
                                self._check(self.output_chars, self.usage.completion_tokens)
                            piece.append(encoded)
                    except Exception:
                        # The events before the one that failed (past the cap, or a watcher
                        # that choked on it) leave before its error, as one by one they did.
                        if piece:
                            yield self._piece(piece)
                        raise
                    if piece:
                        yield self._piece(piece)
        except TRANSPORT_FAILURES as error:
            raise transport_error(error, self._provider) from error

    def _piece(self, events: list[bytes]) -> bytes:
        self.event_count += len(events)
        return events[0] if len(events) == 1 else b"".join(events)

    def _relayed(self, event: ServerSentEvent) -> bytes:
        """The event as the client gets it, its output counted or its usage read."""
        name = event.event
        if name in self._counted and self._count is not None:
            self.output_chars += self._count(event.data)
        # A named event the watcher ignores (a ping, a repeat) is not decoded.
        elif event.data and (self._watched is None or name in self._watched or name == "message"):
            self._read(name, event.data)
        return _encoded(name, event.data)

    def _read(self, name: str, data: str) -> None:
        try:
            payload = msgspec.json.decode(data)
        except msgspec.DecodeError:
            return  # relayed as sent; the client's SDK judges it
        if isinstance(payload, dict):
            self._watch(self, name, payload)


def _encoded(name: str, data: str) -> bytes:
    """The event as SSE: its name (unless ``message``), each line of its data a ``data:`` line."""
    lines = "data: " + data.replace("\n", "\ndata: ") + "\n\n"
    return (lines if name == "message" else f"event: {name}\n{lines}").encode()
