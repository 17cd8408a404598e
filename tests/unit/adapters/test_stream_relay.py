"""The same-format relay's pure parts: event data read as bytes, each read's events turned
into chunks that carry their own bytes, and the gateway's ``x_gateway`` added to an event."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import pytest

from gateway_adapters.providers.openai.relay import MAX_BATCH_EVENTS, RelayReader, framed
from gateway_adapters.providers.sse import DataDecoder, SSEDecoder
from gateway_core.domain.chat import ChatChunk, ToolCallDelta
from gateway_core.domain.relay_tap import RelayTap
from gateway_core.domain.request_caps import OutputCap
from gateway_core.domain.stream_accumulator import StreamAccumulator
from gateway_core.domain.usage import Usage
from gateway_core.errors import ProviderError, UpstreamResponseError
from gateway_http.schemas.completions import with_extension

ROLE = b'{"id":"c1","model":"gpt-4o-2024-08-06","x_new":1,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}'
HELLO = b'{"id":"c1","model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"Hel"},"logprobs":{"content":[]},"finish_reason":null}]}'
LO = b'{ "id": "c1", "choices": [ { "index": 0, "delta": { "content": "lo \\u00e9\xc3\xa9" } } ] }'
CALL = b'{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}'
ARGS = b'{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}'
FINISH = b'{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop","x_choice":"kept"}],"service_tier":"default"}'
USAGE = b'{"id":"c1","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":2}}}'


@pytest.mark.parametrize(
    "body",
    [
        b"data: a\n\ndata: b\n\n",
        b"data: a\r\n\r\ndata: b\r\n\r\n",
        b"data: a\r\rdata: b\r\r\r",  # a last lone CR may be half a CRLF: it waits
        b": keep-alive\ndata:a\nid: 1\n\nevent: message\ndata: b\nretry: 5\n\n",
    ],
)
def test_data_decoder_reads_every_line_ending_in_any_split(body: bytes) -> None:
    for size in range(1, len(body) + 1):
        decoder = DataDecoder()
        events = [e for i in range(0, len(body), size) for e in decoder.feed(body[i : i + size])]
        assert events == [b"a", b"b"], size


def test_data_decoder_agrees_with_the_text_decoder() -> None:
    body = b"data: {\"a\":\ndata:  1}\n\ndata\n\ndatax: no\ndata: \xc3\xa9\n\n"
    text = [e.data.encode() for e in SSEDecoder().feed(body)]
    assert DataDecoder().feed(body) == text == [b'{"a":\n 1}', b"", "é".encode()]


def test_a_multi_line_payload_is_framed_back_line_by_line() -> None:
    payload = b'{"a":\n 1}'
    assert framed(payload) == b'data: {"a":\ndata:  1}\n\n'
    assert DataDecoder().feed(framed(payload)) == [payload]


def test_events_read_together_become_one_chunk_with_all_their_bytes() -> None:
    reader = RelayReader("p")
    (chunk,) = reader.chunks([ROLE, HELLO, LO, CALL, ARGS])
    assert chunk.wire == b"".join(framed(e) for e in (ROLE, HELLO, LO, CALL, ARGS))
    assert chunk.role == "assistant"
    assert chunk.content == "Hello éé"
    assert chunk.model == "gpt-4o-2024-08-06"
    assert chunk.tool_calls == (
        ToolCallDelta(0, "call_1", "f", ""),
        ToolCallDelta(0, None, None, "{}"),
    )
    assert chunk.finish_reason is None and chunk.usage is None
    assert not reader.done


def test_a_flood_read_at_once_is_cut_into_chunks_of_a_few_events() -> None:
    chunks = list(RelayReader("p").chunks([HELLO] * (2 * MAX_BATCH_EVENTS + 1)))
    assert [len(c.content or "") // 3 for c in chunks] == [MAX_BATCH_EVENTS, MAX_BATCH_EVENTS, 1]


def test_a_streams_first_event_is_a_chunk_of_its_own_then_the_rest_of_its_read_together() -> None:
    reader = RelayReader("p", first_alone=True)
    chunks = reader.chunks([HELLO, LO, HELLO])
    first = next(chunks)
    assert first.wire == framed(HELLO), "out before the rest of the read is decoded"
    assert [c.wire for c in chunks] == [framed(LO) + framed(HELLO)]
    assert [c.wire for c in reader.chunks([LO, HELLO])] == [framed(LO) + framed(HELLO)]


def test_the_end_is_a_chunk_of_its_own_decoded_in_full() -> None:
    reader = RelayReader("p")
    content, finish, usage = reader.chunks([HELLO, FINISH, USAGE, b"[DONE]", b"ignored"])
    assert content.wire == framed(HELLO)
    assert finish.wire == framed(FINISH)
    assert (finish.finish_reason, finish.native_finish_reason) == ("stop", "stop")
    assert finish.extra == {"service_tier": "default"}
    assert finish.choice_extra == {"x_choice": "kept"}
    assert usage.wire == framed(USAGE)
    assert usage.usage == Usage(prompt_tokens=11, completion_tokens=7, cached_tokens=2)
    assert reader.done


def test_usage_on_the_finish_event_is_a_second_chunk_without_bytes() -> None:
    event = b'{"choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}'
    finish, usage = RelayReader("p").chunks([event])
    assert finish.wire == framed(event) and finish.content == "!"
    assert usage.wire == b"" and usage.usage == Usage(prompt_tokens=1, completion_tokens=2)


def test_usage_on_a_content_event_is_not_an_end() -> None:
    event = b'{"choices":[{"index":0,"delta":{"content":"a"}}],"usage":{"prompt_tokens":1}}'
    (chunk,) = RelayReader("p").chunks([event, event])
    assert chunk.content == "aa" and chunk.usage is None and chunk.finish_reason is None


def test_a_kept_answer_reads_every_event_whole_with_its_extras() -> None:
    # A session or the cache keeps the answer: each event is a chunk of its own, decoded as
    # the non-relayed path decodes it, so the kept copy holds logprobs and unknown fields.
    reader = RelayReader("p", extras=True)
    role, hello, lo = reader.chunks([ROLE, HELLO, LO])
    assert [c.wire for c in (role, hello, lo)] == [framed(ROLE), framed(HELLO), framed(LO)]
    assert role.extra == {"x_new": 1}
    assert hello.choice_extra == {"logprobs": {"content": []}}
    assert (role.content, hello.content, lo.content) == ("", "Hel", "lo éé")
    finish, usage = reader.chunks([FINISH, USAGE])
    assert finish.wire == framed(FINISH) and finish.finish_reason == "stop"
    assert usage.usage == Usage(prompt_tokens=11, completion_tokens=7, cached_tokens=2)


def test_an_unkept_answer_leaves_the_extras_in_the_bytes() -> None:
    (chunk,) = RelayReader("p", extras=False).chunks([ROLE, HELLO])
    assert chunk.extra == {} and chunk.choice_extra == {}
    # A batch names its provider, as the router would (so it need not copy the first chunk).
    assert (chunk.provider, chunk.model) == ("p", "gpt-4o-2024-08-06")


def test_what_came_before_a_broken_event_goes_out_before_its_error() -> None:
    chunks = RelayReader("p").chunks([HELLO, b'{"choices": ['])
    assert next(chunks).content == "Hel"
    with pytest.raises(UpstreamResponseError):
        next(chunks)


def test_an_error_event_raises_the_providers_error() -> None:
    error = b'{"error":{"message":"overloaded","type":"server_error","code":null}}'
    with pytest.raises(ProviderError):
        list(RelayReader("p").chunks([error]))


def test_the_extension_joins_the_event_as_its_last_field() -> None:
    event = framed(FINISH)
    extended = with_extension(event, {"cost_usd": 0.5, "provider": "p"})
    assert extended.startswith(event[:-3] + b',"x_gateway":')
    body = json.loads(extended.removeprefix(b"data: "))
    assert body["x_gateway"] == {"cost_usd": 0.5, "provider": "p"}
    assert {k: v for k, v in body.items() if k != "x_gateway"} == json.loads(FINISH)
    assert json.loads(with_extension(b"data: { }\n\n", {"a": 1})[6:]) == {"x_gateway": {"a": 1}}
    assert with_extension(b"data: [1]\n\n", {"a": 1}) == b"data: [1]\n\n"


class _Client:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, body: bytes) -> bool:
        self.written.append(body)
        return True


def _tapped_reader(cap_tokens: int = 1000) -> tuple[RelayReader, _Client, StreamAccumulator]:
    progress, client = StreamAccumulator(), _Client()
    tap = RelayTap(progress, OutputCap(cap_tokens, None, 1.0))
    tap.write = client.write
    return RelayReader("p", tap=tap), client, progress


def test_text_events_go_through_the_tap_as_text_and_bytes_without_a_chunk() -> None:
    reader, client, progress = _tapped_reader()
    assert list(reader.chunks([HELLO, LO])) == []
    assert client.written == [framed(HELLO) + framed(LO)]
    assert progress.response("m").choices[0].message.text == "Hello éé"


def test_after_a_chunk_is_yielded_the_rest_of_the_read_is_yielded_in_order() -> None:
    reader, client, progress = _tapped_reader()
    chunks = list(reader.chunks([HELLO, FINISH, LO]))  # text, the end, more text
    assert client.written == [framed(HELLO)]
    assert [c.finish_reason for c in chunks] == ["stop", None]
    assert chunks[1].content == "lo éé", "text after the end was tapped out of order"
    # The next read starts afresh: its text goes through the tap again.
    assert list(reader.chunks([HELLO])) == [] and len(client.written) == 2
    assert progress.response("m").choices[0].message.text == "HelHel"


def test_tool_call_fragments_and_text_past_the_cap_are_yielded() -> None:
    reader, client, _ = _tapped_reader()
    (calls,) = reader.chunks([CALL, ARGS])
    assert calls.tool_calls and client.written == []
    capped, client, _ = _tapped_reader(cap_tokens=0)
    (text,) = capped.chunks([HELLO])
    assert text.content == "Hel" and client.written == []


def test_text_the_tap_took_before_a_broken_event_is_out_before_the_error() -> None:
    reader, client, _ = _tapped_reader()
    with pytest.raises(UpstreamResponseError):
        list(reader.chunks([HELLO, b"not json"]))
    assert client.written == [framed(HELLO)]


USAGE_ON_CONTENT = b'{"id":"c1","choices":[{"index":0,"delta":{"content":"x"}}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}'
NO_CHOICES = b'{"id":"c1","choices":[]}'
TWO_CHOICES = b'{"id":"c1","choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"delta":{}},{"index":2,"delta":{"content":"b"}}]}'


def _outcome(read: Callable[[bytes], Iterable[ChatChunk]], raw: bytes) -> tuple[object, ...]:
    try:
        return ("chunks", list(read(raw)))
    except ProviderError as error:
        return ("error", type(error), str(error))


@pytest.mark.parametrize("cap_tokens", [1000, 0])
@pytest.mark.parametrize(
    "event",
    [ROLE, HELLO, LO, CALL, ARGS, FINISH, USAGE, USAGE_ON_CONTENT, NO_CHOICES, TWO_CHOICES,
     b"[DONE]", b"", b"not json", b'{"error":{"message":"overloaded","type":"server_error"}}'],
)  # fmt: skip
def test_a_read_of_one_event_has_the_same_outcome_tapped_as_read(
    event: bytes, cap_tokens: int
) -> None:
    """``read_tapped``'s shortcut for a read of one text event writes, yields, counts and
    raises what ``read`` does for it, whatever the event and whether the tap takes it."""
    _assert_same_outcome_tapped_as_read(b"data: " + event + b"\n\n", cap_tokens)


def _assert_same_outcome_tapped_as_read(raw: bytes, cap_tokens: int) -> None:
    results = []
    for read in ("read", "read_tapped"):
        reader, client, progress = _tapped_reader(cap_tokens)
        outcome = _outcome(getattr(reader, read), raw)
        text = progress.response("m").choices[0].message.text
        results.append((outcome, client.written, text, reader.done))
    assert results[0] == results[1]


def test_a_text_event_read_alone_is_taken_by_the_tap_without_a_chunk() -> None:
    reader, client, progress = _tapped_reader()
    assert reader.read_tapped(b"data: " + HELLO + b"\n\n") == ()
    assert reader.read_tapped(b"data: " + USAGE_ON_CONTENT + b"\n\n") == ()
    assert client.written == [framed(HELLO), framed(USAGE_ON_CONTENT)]
    assert progress.response("m").choices[0].message.text == "Helx"


@pytest.mark.parametrize(
    "reads",
    [
        [b"data: " + HELLO + b"\n\n", b"data: " + LO + b"\n\n"],
        [b"data:" + HELLO + b"\n\n"],  # no space after the colon
        [b"data: " + HELLO + b"\r\n\r\n", b"data: " + LO + b"\r\r"],
        [b"data: " + HELLO[:10], HELLO[10:] + b"\n\n", b"data: " + LO + b"\n\n"],
        [b"data: " + HELLO + b"\n", b"\n", b"data: " + LO + b"\n\n"],
        [b"data: " + HELLO + b"\n", b"data: " + LO + b"\n\n"],  # one event of two lines
        [b"data: " + HELLO[:10], b"data: " + LO + b"\n\n"],  # a line cut short
        [b"data: " + HELLO + b"\n\ndata: " + LO + b"\n\n"],
        [b"data: {\ndata: }\n\n", b": keep-alive\n\n", b"data: \n\n", b"data: [DONE]\n\n"],
    ],
)
def test_reads_in_any_framing_have_the_same_outcome_tapped_as_read(reads: list[bytes]) -> None:
    results = []
    for read in ("read", "read_tapped"):
        reader, client, progress = _tapped_reader()
        outcomes = [_outcome(getattr(reader, read), raw) for raw in reads]
        text = progress.response("m").choices[0].message.text
        results.append((outcomes, client.written, text, reader.done))
    assert results[0] == results[1]


_EVENTS = {
    "hello": HELLO, "lo": LO, "two": TWO_CHOICES, "usage_on_content": USAGE_ON_CONTENT,
    "no_choices": NO_CHOICES, "role": ROLE, "call": CALL, "finish": FINISH, "usage": USAGE,
    "done": b"[DONE]", "empty": b"", "bad": b"not json",
    "error": b'{"error":{"message":"overloaded","type":"server_error"}}',
    # Broken events whose payloads, put together, would read as whole chunks: each event
    # must still be one chunk object on its own.
    "head": b'{"id":"c1","choices":[{"index":0,"delta":{"content":"a"}}]}, '
            b'{"id":"c2","choices":[{"index":0,"delta":{"content":"b"}}],"x":[{}',
    "tail": b'{}]}', "pair": HELLO + b" " + LO, "blank": b" ",
}  # fmt: skip


@pytest.mark.parametrize("cap_tokens", [1000, 2, 0])
@pytest.mark.parametrize(
    "names",
    [("hello", "lo"), ("hello", "lo", "two", "usage_on_content"), ("hello", "no_choices"),
     ("role", "hello"), ("hello", "call"), ("hello", "finish"), ("hello", "finish", "usage"),
     ("hello", "done"), ("lo", "empty"), ("hello", "bad", "lo"), ("hello", "error"),
     ("error", "hello"), ("hello",) * MAX_BATCH_EVENTS, ("hello",) * (MAX_BATCH_EVENTS + 1),
     ("head", "tail"), ("hello", "head", "tail"), ("pair", "blank"), ("pair",), ("lo", "pair")],
)  # fmt: skip
def test_a_read_of_several_events_has_the_same_outcome_tapped_as_read(
    names: tuple[str, ...], cap_tokens: int
) -> None:
    """``read_tapped``'s shortcut for a read of several text events (a saturated gateway's
    reads) writes, yields, counts and raises what ``read`` does, whatever the events."""
    raw = b"".join(b"data: " + _EVENTS[name] + b"\n\n" for name in names)
    _assert_same_outcome_tapped_as_read(raw, cap_tokens)


class _CountingDecoder(DataDecoder):
    feeds = 0

    def feed(self, raw: bytes) -> list[bytes]:
        self.feeds += 1
        return super().feed(raw)


def test_a_read_of_several_text_events_goes_to_the_tap_in_one_write_without_the_decoder() -> None:
    reader, client, progress = _tapped_reader()
    decoder = reader._decoder = _CountingDecoder()  # what the shortcut is there to skip
    raw = b"data: " + HELLO + b"\n\ndata: " + LO + b"\n\ndata: " + TWO_CHOICES + b"\n\n"
    assert reader.read_tapped(raw) == ()
    assert client.written == [raw]
    assert progress.response("m").choices[0].message.text == "Hello ééab"
    assert decoder.feeds == 0
