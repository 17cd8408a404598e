"""The SSE decoder: the same events however the bytes are split, and the first one early."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway_adapters.providers.sse import ServerSentEvent, SSEDecoder

STREAM = (
    b": a comment\r\n"
    b"event: message_start\r\ndata: {\"a\": 1}\r\n\r\n"
    b"data: line one\ndata: line two\n\n"
    b"data: {\"delta\": \"caf\xc3\xa9\"}\r\r"
    b"unknown: ignored\ndata: [DONE]\n\n"
)
EXPECTED = [
    ServerSentEvent("message_start", '{"a": 1}'),
    ServerSentEvent("message", "line one\nline two"),
    ServerSentEvent("message", '{"delta": "café"}'),
    ServerSentEvent("message", "[DONE]"),
]


def test_one_chunk_holding_the_whole_stream() -> None:
    assert SSEDecoder().feed(STREAM) == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_split_of_the_bytes_gives_the_same_events(cuts: list[int]) -> None:
    decoder, events, last = SSEDecoder(), [], 0
    for cut in [*sorted(cuts), len(STREAM)]:
        events += decoder.feed(STREAM[last:cut])
        last = cut
    assert events == EXPECTED


def test_the_first_event_comes_before_the_rest_is_parsed() -> None:
    decoder = SSEDecoder()
    events = decoder.events(STREAM + b"data: {broken")
    assert next(events) == EXPECTED[0]
    assert decoder._data == [], "the lines after the first event are not read yet"
    assert decoder._buffer == b"data: {broken", "the unfinished line waits"
    assert list(events) == EXPECTED[1:]
    assert decoder.feed(b"}\n\n") == [ServerSentEvent("message", "{broken}")]


def test_the_events_before_a_line_that_is_not_utf8_come_before_its_error() -> None:
    events = SSEDecoder().events(b"data: 1\n\ndata: \xff\n\n")
    assert next(events) == ServerSentEvent("message", "1")
    with pytest.raises(UnicodeDecodeError):
        next(events)
