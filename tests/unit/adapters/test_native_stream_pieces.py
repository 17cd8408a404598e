"""A natively forwarded stream gives the events of one read as one piece (one write to the
client, not one per event), its first event alone; the door's output cap still cuts exactly
before the event that passes it, however the events are grouped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from gateway_adapters.providers.anthropic.messages_passthrough import (
    MESSAGES_DELTAS,
    messages_delta_chars,
    watch_messages_events,
)
from gateway_adapters.providers.native_stream import RelayedStream
from gateway_adapters.providers.sse import ServerSentEvent, iter_sse_reads
from gateway_core.domain.request_caps import OutputCap
from gateway_core.errors import UpstreamTooLargeError


class _Answer:
    status = 200

    def __init__(self, reads: list[bytes]) -> None:
        self._reads = reads

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        for read in self._reads:
            yield read


def _event(name: str, **data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()


def _text(text: str) -> bytes:
    delta = {"type": "text_delta", "text": text}
    return _event("content_block_delta", index=0, delta=delta)


START = _event("message_start", message={"model": "claude", "usage": {"input_tokens": 3}})
STOP = _event("message_stop")


def _stream(reads: list[bytes]) -> RelayedStream:
    @asynccontextmanager
    async def opened() -> AsyncIterator[Any]:
        yield _Answer(reads)

    return RelayedStream(opened(), provider="p", error_for=None, model="m",  # type: ignore[arg-type]
                         watch=watch_messages_events, count=messages_delta_chars,
                         counted=MESSAGES_DELTAS)  # fmt: skip


def _drain(stream: RelayedStream, pieces: list[bytes], cap: OutputCap | None = None) -> None:
    """The stream's pieces into ``pieces``; ``cap`` armed once the first is given, as the
    door arms it."""

    async def drain() -> None:
        async for piece in stream:
            pieces.append(piece)
            if cap is not None:
                stream.cap_output(lambda chars, tokens: cap.check(chars, tokens, "p"))

    asyncio.run(drain())


def test_the_events_of_one_read_are_one_piece_and_the_first_event_is_alone() -> None:
    whole = START + _text("Hel") + _text("lo") + STOP
    stream, pieces = _stream([whole, _text("late") + STOP]), []
    _drain(stream, pieces)
    assert pieces == [START, _text("Hel") + _text("lo") + STOP, _text("late") + STOP]
    assert stream.event_count == 6
    assert stream.output_chars == len("Hello") + len("late")
    assert stream.model == "claude"


def test_events_split_across_reads_leave_with_the_read_that_completes_them() -> None:
    whole = START + _text("a") + _text("b") + STOP
    cut = len(START) + 5  # inside the second event
    pieces: list[bytes] = []
    _drain(_stream([whole[:3], whole[3:cut], whole[cut:]]), pieces)
    assert pieces == [START, _text("a") + _text("b") + STOP]


def test_the_cap_cuts_a_piece_exactly_before_the_event_that_passes_it() -> None:
    cap = OutputCap(max_output_tokens=2, requested=None, margin=1.0)  # 8 characters
    stream = _stream([START + _text("1234") + _text("5678") + _text("9") + STOP])
    pieces: list[bytes] = []
    with pytest.raises(UpstreamTooLargeError):
        _drain(stream, pieces, cap)
    assert pieces == [START, _text("1234") + _text("5678")], "every event within the cap"
    assert stream.event_count == 3, "the event past the cap is not counted as given"


def test_the_cap_on_the_first_event_of_a_read_gives_nothing_of_that_read() -> None:
    cap = OutputCap(max_output_tokens=1, requested=None, margin=1.0)  # 4 characters
    pieces: list[bytes] = []
    with pytest.raises(UpstreamTooLargeError):
        _drain(_stream([START, _text("12345") + STOP]), pieces, cap)
    assert pieces == [START]


def test_iter_sse_reads_groups_by_read_and_skips_reads_that_complete_nothing() -> None:
    async def groups() -> list[list[ServerSentEvent]]:
        async def reads() -> AsyncIterator[bytes]:
            for read in (b"data: 1\n", b"\ndata: 2\n\ndata: 3\n\nda", b"ta: 4", b"\n\n"):
                yield read

        return [list(group) async for group in iter_sse_reads(reads())]

    assert asyncio.run(groups()) == [
        [ServerSentEvent("message", "1")],
        [ServerSentEvent("message", "2"), ServerSentEvent("message", "3")],
        [ServerSentEvent("message", "4")],
    ]
