"""A relayed stream's middle events, written to the client where the adapter reads them.

A relayed stream (``ChatRequest.relay``: the client reads the upstream's own format) passes
each event through every layer between the upstream's socket and the client's: the adapter's
generator, the use case's, the turn's, the door's SSE writer, the web framework's ``send`` and
the server's. For a slow stream each event is one read, so it pays all of them, one by one;
that was most of the CPU per chunk. The events between the first and the end need none of
those layers but the turn's bookkeeping (the text it keeps, the output cap) and a write.

So the turn offers the adapter a ``RelayTap`` for the duration of the stream (the
``RELAY_TAP`` context variable, read once when the adapter's stream starts), and the door
arms it with a ``write`` once the response's head and first event are out. The adapter hands
each chunk to ``take``: a middle chunk the tap can write is counted by the turn and written at
once; anything else (the end, a chunk that would pass the output cap, a client whose socket
is full or gone, a tap not armed) is declined and yielded as before, so the turn sees it in
order and raises or holds what it must exactly as on the yielded path.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from gateway_core.domain.chat import ChatChunk
from gateway_core.domain.request_caps import OutputCap
from gateway_core.domain.stream_accumulator import StreamAccumulator

BodyWriter = Callable[[bytes], bool]
"""Writes an event's bytes to the client now and returns ``True``, or writes nothing and
returns ``False`` (the client's socket is full, or the client is gone): the caller then
sends them the ordinary way, which waits or notices."""


class RelayTap:
    """The turn's bookkeeping of a relayed stream's middle events, and the door's writer."""

    __slots__ = ("_cap", "_progress", "extras", "write")

    def __init__(self, progress: StreamAccumulator, cap: OutputCap, *, extras: bool = True) -> None:
        self._progress = progress
        self._cap = cap
        self.extras = extras
        """Whether the chunks the adapter yields also carry their events' unmodelled fields
        (``extra``...), as decoded chunks do. Reading them costs a second decode per event,
        and the client gets them in the bytes either way: the turn says no when nothing keeps
        the answer (no session, no cache entry)."""
        self.write: BodyWriter | None = None
        """Set by the door once the head and the first event are out; ``None``: declined."""

    def take(self, chunk: ChatChunk) -> bool:
        """``True``: the chunk was counted and written; ``False``: yield it as usual."""
        write = self.write
        wire = chunk.wire
        if write is None or not wire or chunk.finish_reason is not None or chunk.usage is not None:
            return False
        chars = len(chunk.content or "") + len(chunk.reasoning_content or "")
        for delta in chunk.tool_calls:
            chars += len(delta.arguments)
        cap = self._cap
        if not cap.take(chars):
            return False
        if not write(wire):
            cap.give_back(chars)
            return False
        self._progress.add(chunk)
        return True

    def take_text(self, text: str, wire: bytes) -> bool:
        """``take`` for a middle chunk that is only text (no tool call, no reasoning, no
        finish or usage: the common event), without building the chunk."""
        write = self.write
        if write is None:
            return False
        cap, chars = self._cap, len(text)
        if not cap.take(chars):
            return False
        if not write(wire):
            cap.give_back(chars)
            return False
        self._progress.add_text(text)
        return True

    def close(self) -> None:
        """No more writes through the tap (the turn holds what follows, or the stream ended)."""
        self.write = None


RELAY_TAP: ContextVar[RelayTap | None] = ContextVar("relay_tap", default=None)
"""The tap of the relayed stream being opened, for the adapter to read when it starts."""
