"""An OpenAI-format stream relayed as bytes to a client that reads the same format.

When the door writes ``chat.completion.chunk`` events too (``ChatRequest.relay``), each event
goes to the client as the upstream sent it: ids, ``created``, ``model``, ``logprobs``,
``service_tier`` and fields nobody has heard of yet, byte for byte (only the SSE framing is
the gateway's: ``data: <payload>`` and a blank line). The gateway reads from each event only
what the turn needs: text and tool-call fragments (sessions, the cache, an early end's
estimate), the model, the finish reason and the usage (accounting). Its ``extra`` fields
travel in the bytes; they are decoded too only when the turn keeps the answer (a session, the
cache: ``RelayTap.extras``), so that the kept copy equals a decoded stream's. Then
every event is a chunk of its own, decoded as the non-relayed path decodes it.

The events one read brings (a whole answer, from a fast upstream) become one chunk: their
text joined, their tool-call fragments in order, their bytes concatenated. The stream's first
event is the exception: a chunk of its own as soon as it is decoded, so that the client's
first byte does not wait for the rest of its read (one more write per stream whose first read
brings several events). The end of a stream (an event with a finish reason, a usage report
without choices) is decoded in full and is a chunk of its own, so the door can add the
gateway's ``x_gateway`` to it once the turn is accounted.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

import msgspec

from gateway_adapters.http1 import Response
from gateway_adapters.providers.openai import schema
from gateway_adapters.providers.openai.errors import stream_error
from gateway_adapters.providers.openai.wire import chunks_of
from gateway_adapters.providers.sse import DataDecoder
from gateway_core.domain.chat import ChatChunk, ToolCallDelta
from gateway_core.domain.evolve import evolve
from gateway_core.domain.relay_tap import RelayTap
from gateway_core.errors import ProviderError, UpstreamConnectionError, UpstreamResponseError

DONE = b"[DONE]"
MAX_BATCH_EVENTS = 16
"""At most this many events make one chunk: the turn checks its output cap per chunk, so an
upstream that floods (one read can bring 256 KiB) is cut within a few events of the cap."""
_DECODE = schema.CHUNK_DECODER.decode
_DECODE_LINES = schema.CHUNK_DECODER.decode_lines


def framed(data: bytes) -> bytes:
    """``data`` as one server-sent event (each of its lines a ``data:`` line)."""
    if data.find(b"\n") >= 0:  # not ``in`` (see ``sse._lf_lines``)
        data = data.replace(b"\n", b"\ndata: ")
    return b"data: " + data + b"\n\n"


class _Batch:
    """Events read together, none of them an end: one chunk for all of them."""

    __slots__ = ("calls", "events", "model", "role", "texts")

    def __init__(self) -> None:
        self.events: list[bytes] = []
        self.texts: list[str] = []
        self.calls: list[ToolCallDelta] = []
        self.role: str | None = None
        self.model: str | None = None

    def add(self, data: bytes, chunk: schema.Chunk) -> None:
        self.events.append(framed(data))
        if self.model is None and chunk.model:
            self.model = chunk.model
        for choice in chunk.choices or ():
            delta = choice.delta
            if delta is None:
                continue
            if delta.role is not None and self.role is None:
                self.role = delta.role
            if delta.content is not None:
                self.texts.append(delta.content)
            for call in delta.tool_calls or ():
                function = call.function
                self.calls.append(
                    ToolCallDelta(
                        index=call.index,
                        id=call.id,
                        name=function.name if function else None,
                        arguments=(function.arguments or "") if function else "",
                    )
                )

    def chunk(self, provider: str) -> ChatChunk:
        """The batch as one chunk; it names its ``provider`` (the router then has no copy of
        a stream's first chunk to make to name it: every stream's first byte waits on that)."""
        texts = self.texts
        return ChatChunk(
            role=self.role,
            content=("".join(texts) if len(texts) > 1 else texts[0]) if texts else None,
            tool_calls=tuple(self.calls),
            model=self.model,
            provider=provider,
            wire=b"".join(self.events),
        )


async def relay_stream(
    reads: AsyncIterable[bytes], provider: str, *, extras: bool = True
) -> AsyncIterator[ChatChunk]:
    """A provider's stream body, read by read, as relayed chunks; only ``[DONE]`` ends it
    cleanly. ``extras``: the chunks carry the events' unmodelled fields too."""
    reader = RelayReader(provider, extras=extras, first_alone=True)
    async for raw in reads:
        for chunk in reader.read(raw):
            yield chunk
        if reader.done:
            return
    raise reader.cut_short()


class RelayReader:
    """Reads the events of one stream; ``done`` once its ``[DONE]`` came.

    ``tap``: the turn's (``gateway_core.domain.relay_tap``). A batch of text-only events is
    offered to it as text and bytes, without becoming a chunk (most events of a stream are
    such); once a read yielded anything, the rest of that read is yielded too, so that the
    caller sees what follows a declined chunk in order."""

    __slots__ = ("_alone", "_decoder", "_tap", "_yielded", "done", "extras", "provider")

    def __init__(
        self,
        provider: str,
        *,
        extras: bool = False,
        tap: RelayTap | None = None,
        first_alone: bool = False,
    ) -> None:
        """``first_alone``: the stream's first event is a chunk of its own (see the module)."""
        self.provider = provider
        self.extras = extras
        self.done = False
        self._decoder = DataDecoder()
        self._tap = tap
        self._yielded = False
        self._alone = first_alone

    def read(self, raw: bytes) -> Iterator[ChatChunk]:
        """The chunks of the events ``raw`` (the body's next read) completes, in order: for
        a caller that loops over the reads itself (one async generator fewer per chunk than
        ``relay_stream``); stop once ``done``, raise ``cut_short()`` if the body ends first."""
        return self.chunks(self._decoder.feed(raw))

    def read_tapped(self, raw: bytes) -> Iterable[ChatChunk]:
        """``read`` for a reader with an armed tap: a read of text-only middle events, each
        framed as the gateway frames it (a slow stream's every read but its first and last;
        two or three events a read once the gateway's core is saturated), goes to the tap as
        it came, with no decoder, generator, batch or chunk; anything else, or what the tap
        declines, takes ``read``'s way."""
        tap = self._tap
        if (
            tap is None
            or self.extras
            or not raw.startswith(b"data: ")
            or not raw.endswith(b"\n\n")
            or not self._decoder.idle
            or raw.find(b"\r") >= 0  # not ``in`` (see ``sse._lf_lines``)
        ):
            return self.chunks(self._decoder.feed(raw))
        if raw.find(b"\n") == len(raw) - 2:
            # One event (a paced stream's every read): 0.6 us a read faster than the split
            # and loop of ``_middle_texts`` below, which give the same outcome.
            data = raw[6:-2]  # what the decoder would read: one event, its one data line
            if data and data != DONE:
                text = _middle_text(self._decode(data))
                if text is not None and tap.take_text(text, raw):  # raw == framed(data)
                    return ()
            return self.chunks([data])
        text = self._middle_texts(raw[:-2].split(b"\n\n"))
        if text is not None and tap.take_text(text, raw):  # what one batch of them would be
            return ()
        return self.chunks(self._decoder.feed(raw))

    def _middle_texts(self, events: list[bytes]) -> str | None:
        """The joined text of ``events`` (a read split at its blank lines) if each is one
        ``data:`` line of a text-only middle event and they make one batch, else ``None``:
        ``read``'s way then decodes them again, and keeps what comes before an end or an
        error first."""
        if len(events) > MAX_BATCH_EVENTS:
            return None
        payloads = []
        for event in events:
            if not event.startswith(b"data: {") or not event.endswith(b"}"):
                return None
            payloads.append(event[6:])
        # All of them in one decode, a line each (a saturated gateway's reads bring several):
        # one call instead of one per event. Each payload is one line that starts with "{"
        # and ends with "}", so where two meet ("}", a newline, "{") can only be between two
        # values (inside an array or an object a comma would have to come between), and as
        # many values as events means one whole chunk object each.
        joined = b"\n".join(payloads)
        if joined.count(b"\n") != len(payloads) - 1:
            return None  # an event of more than one line
        try:
            chunks = _DECODE_LINES(joined)
        except msgspec.DecodeError:
            return None
        if len(chunks) != len(events):
            return None
        texts = []
        for chunk in chunks:
            text = None if chunk.error is not None else _middle_text(chunk)
            if text is None:
                return None
            texts.append(text)
        return "".join(texts)

    def cut_short(self) -> UpstreamConnectionError:
        """The error of a body that ended before ``[DONE]``."""
        provider = self.provider
        return UpstreamConnectionError(
            f"{provider} ended the stream before [DONE]", provider=provider
        )

    def chunks(self, events: list[bytes]) -> Iterator[ChatChunk]:
        """The chunks of the events one read completed (their ``data``), in order. What came
        before a broken event still goes out before its error; what follows ``[DONE]`` is
        ignored."""
        batch: _Batch | None = None
        self._yielded = False
        try:
            for data in events:
                if data == DONE:
                    self.done = True
                    break
                if not data:
                    continue
                chunk = self._decode(data)
                if self.extras:
                    if batch is not None:
                        yield from self._out(batch)
                        batch = None
                    self._yielded = True
                    yield from _whole_chunks(chunk, data, self.provider)
                    continue
                if not _is_end(chunk):
                    if batch is None:
                        batch = _Batch()
                    batch.add(data, chunk)
                    if len(batch.events) == MAX_BATCH_EVENTS or self._alone:
                        self._alone = False
                        yield from self._out(batch)
                        batch = None
                    continue
                if batch is not None:
                    yield from self._out(batch)
                    batch = None
                self._yielded = True
                yield from _whole_chunks(chunk, data, self.provider)
        except ProviderError:
            if batch is not None:
                yield from self._out(batch)
            raise
        if batch is not None:
            yield from self._out(batch)

    def _out(self, batch: _Batch) -> tuple[ChatChunk, ...]:
        """The batch's chunk, or nothing if the tap took it as text."""
        tap = self._tap
        if tap is not None and not self._yielded and not batch.calls:
            texts = batch.texts
            text = ("".join(texts) if len(texts) > 1 else texts[0]) if texts else ""
            if tap.take_text(text, b"".join(batch.events)):
                return ()
        self._yielded = True
        return (batch.chunk(self.provider),)

    def _decode(self, data: bytes) -> schema.Chunk:
        provider = self.provider
        try:
            chunk = _DECODE(data)
        except msgspec.DecodeError as error:
            raise UpstreamResponseError(
                f"{provider} sent a stream event that is not a chat completion chunk",
                provider=provider,
            ) from error
        if chunk.error is not None:
            raise stream_error(chunk.error, provider)
        return chunk


async def tapped_stream(
    response: Response, tap: RelayTap, provider: str
) -> AsyncIterator[ChatChunk]:
    """A relayed stream whose middle events the turn's tap writes to the client
    (``gateway_core.domain.relay_tap``) from the upstream connection's callback, as each read
    arrives: no task step and no generator frames per chunk. What the tap declines (the
    first chunk, the end, a chunk past the output cap, a client whose socket is full), and
    everything after it in the same read, is yielded here, in order; an error the reader
    raises is raised after what came before it."""
    reader = RelayReader(provider, extras=tap.extras, tap=tap, first_alone=True)
    # Until the door arms the tap (the head and the first event are out), each read's chunks
    # are yielded as they are decoded: the first event leaves as soon as its batch is read.
    while tap.write is None:
        raw = await response.next_read()
        if not raw:
            raise reader.cut_short()
        for chunk in reader.read(raw):
            yield chunk
        if reader.done:
            return
    declined: list[ChatChunk] = []
    failure: list[BaseException] = []

    def sink(raw: bytes) -> bool:
        try:
            for chunk in reader.read_tapped(raw):
                if declined or not tap.take(chunk):
                    declined.append(chunk)
        except Exception as error:  # noqa: BLE001 - raised in the stream's task, in order
            failure.append(error)
        return bool(declined or failure) or reader.done

    while True:
        ended = await response.feed_body(sink)
        if declined:
            chunks = declined[:]
            declined.clear()
            for chunk in chunks:
                yield chunk
        if failure:
            raise failure[0]
        if reader.done:
            return
        if ended:
            raise reader.cut_short()


def _middle_text(chunk: schema.Chunk) -> str | None:
    """The text of an event that a batch of its own would give the tap as text (choices, none
    of them finished, no tool call; a usage report beside them is not an end), else ``None``
    (``read`` decides, as for any other read)."""
    choices = chunk.choices
    if not choices:
        return None
    text = ""
    for choice in choices:
        if choice.finish_reason is not None:
            return None
        delta = choice.delta
        if delta is None:
            continue
        if delta.tool_calls:
            return None
        content = delta.content
        if content is not None:
            text = text + content if text else content
    return text


def _is_end(chunk: schema.Chunk) -> bool:
    """A finish, or a usage report without choices: what the door holds until the turn is
    accounted (a usage report on a content event, as some servers send, is not an end)."""
    choices = chunk.choices
    if not choices:
        return chunk.usage is not None
    return any(choice.finish_reason is not None for choice in choices)


def _whole_chunks(chunk: schema.Chunk, data: bytes, provider: str) -> list[ChatChunk]:
    """An event decoded in full (its extras too), its bytes on its first chunk."""
    chunks = chunks_of(chunk, data, provider)
    wire = framed(data)
    return [evolve(c, wire=wire if i == 0 else b"") for i, c in enumerate(chunks)]
