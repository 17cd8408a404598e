"""Server-sent events, decoded incrementally from the bytes of an HTTP body.

Follows the WHATWG event-stream rules that matter for LLM APIs: lines end in LF, CRLF or CR;
``data`` lines of one event are joined with LF; ``event`` names the event; comments (``:``)
and unknown fields are ignored; an event is dispatched at a blank line.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str
    data: str


def _lf_lines(buffer: bytes) -> tuple[bytes, bytes]:
    """``buffer`` with every line ending (LF, CRLF, CR) as LF, and what must wait for the next
    read: a CR at the end, maybe the first half of a CRLF still on its way."""
    # ``find``, not ``in``: on Python 3.11 ``bytes in bytes`` first tries the needle as an
    # integer and formats the TypeError it raises (twice the time, every read).
    if buffer.find(b"\r") < 0:
        return buffer, b""
    tail = b""
    if buffer.endswith(b"\r"):
        buffer, tail = buffer[:-1], b"\r"
    return buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n"), tail


class SSEDecoder:
    """Feed it byte chunks as they arrive; it returns the events they complete."""

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        return list(self.events(chunk))

    def events(self, chunk: bytes) -> Iterator[ServerSentEvent]:
        """The events ``chunk`` completes, each as soon as its lines are read: when one read
        brings a whole answer, the first event goes on its way before the rest is parsed.
        Iterate it to the end before feeding the next chunk.

        The read's complete lines are decoded and split at once (two calls into C, not a
        search and a decode per line); the unfinished line waits in the buffer."""
        buffer, tail = _lf_lines(self._buffer + chunk if self._buffer else chunk)
        end = buffer.rfind(b"\n")
        self._buffer = buffer[end + 1 :] + tail
        if end == -1:
            return
        complete = buffer[:end]
        try:
            lines: Iterable[str] = complete.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            # Line by line, so that the events before the broken line still go before its
            # error.
            lines = (line.decode("utf-8") for line in complete.split(b"\n"))
        for line in lines:
            if not line:
                if self._data or self._event:
                    event = ServerSentEvent(self._event or "message", "\n".join(self._data))
                    self._event, self._data = "", []
                    yield event
            elif line[0] != ":":  # a comment otherwise
                field, _, value = line.partition(":")
                if value[:1] == " ":
                    value = value[1:]
                if field == "data":
                    self._data.append(value)
                elif field == "event":
                    self._event = value


async def iter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.events(chunk):
            yield event


async def iter_sse_reads(chunks: AsyncIterable[bytes]) -> AsyncIterator[Sequence[ServerSentEvent]]:
    """The events of each read, together, in order (a read that completes none gives
    nothing): for a relay that writes them together. The stream's first event comes alone,
    as soon as its lines are read, so that it does not wait for the rest of its read."""
    decoder = SSEDecoder()
    reads = aiter(chunks)
    async for chunk in reads:
        events = decoder.events(chunk)
        first = next(events, None)
        if first is None:
            continue
        yield (first,)
        rest = list(events)
        if rest:
            yield rest
        break
    async for chunk in reads:
        completed = decoder.feed(chunk)
        if completed:
            yield completed


class DataDecoder:
    """Each event's ``data`` as bytes, for a relay that passes payloads on as they came.

    The same rules as ``SSEDecoder`` (lines end in LF, CRLF or CR; an event's ``data`` lines
    are joined with LF; it is dispatched at a blank line; comments and other fields are
    ignored), reading a whole read's lines at once and never decoding text: the relay's cost
    per event is one split, not a parse of every line.
    """

    def __init__(self) -> None:
        self._rest = b""
        self._data: list[bytes] = []

    @property
    def idle(self) -> bool:
        """Nothing of an unfinished line or event is held: the next read starts afresh."""
        return not self._rest and not self._data

    def feed(self, chunk: bytes) -> list[bytes]:
        """The ``data`` of the events ``chunk`` completes, in order (``b""`` for an event
        with an empty one)."""
        buffer, tail = _lf_lines(self._rest + chunk if self._rest else chunk)
        lines = buffer.split(b"\n")
        self._rest = lines.pop() + tail
        events: list[bytes] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(data[0] if len(data) == 1 else b"\n".join(data))
                    data = self._data = []
            elif line.startswith(b"data"):
                value = line[4:]
                if not value:
                    data.append(b"")
                elif value[0] == 58:  # b":"; "datax: ..." is another field
                    data.append(value[2:] if value[1:2] == b" " else value[1:])
        return events
