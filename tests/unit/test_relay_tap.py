"""``RelayTap``: which middle chunks of a relayed stream it writes (counted by the turn), and
which it declines, so that the turn sees them in order on the yielded path."""

from __future__ import annotations

import pytest

from gateway_core.domain.chat import ChatChunk, ToolCallDelta
from gateway_core.domain.relay_tap import RelayTap
from gateway_core.domain.request_caps import OutputCap
from gateway_core.domain.stream_accumulator import StreamAccumulator
from gateway_core.domain.usage import Usage

MIDDLE = ChatChunk(content="hello", wire=b'data: {"x":1}\n\n')


class Client:
    def __init__(self, accepts: bool = True) -> None:
        self.accepts = accepts
        self.written: list[bytes] = []

    def write(self, body: bytes) -> bool:
        if self.accepts:
            self.written.append(body)
        return self.accepts


def tap_with(client: Client | None, cap_tokens: int = 100) -> tuple[RelayTap, StreamAccumulator, OutputCap]:
    progress, cap = StreamAccumulator(), OutputCap(cap_tokens, None, 1.0)
    tap = RelayTap(progress, cap)
    tap.write = client.write if client is not None else None
    return tap, progress, cap


def test_an_armed_tap_writes_a_middle_chunk_and_the_turn_counts_it() -> None:
    client = Client()
    tap, progress, cap = tap_with(client)
    call = ToolCallDelta(index=0, id="c1", name="f", arguments='{"a":1}')
    with_call = ChatChunk(tool_calls=(call,), wire=b"data: {}\n\n")
    assert tap.take(MIDDLE) and tap.take(with_call)
    assert client.written == [MIDDLE.wire, with_call.wire]
    response = progress.response("m")
    assert response.choices[0].message.text == "hello"
    assert response.choices[0].message.tool_calls[0].arguments == '{"a":1}'
    assert not cap.allows(400 - 5 - 7 + 1) and cap.allows(400 - 5 - 7)


@pytest.mark.parametrize(
    "chunk",
    [
        ChatChunk(content="x", finish_reason="stop", wire=b"data: {}\n\n"),
        ChatChunk(usage=Usage(1, 2), wire=b"data: {}\n\n"),
        ChatChunk(content="x", wire=b""),  # its bytes went with the chunk before it
        ChatChunk(content="x"),  # not relayed
    ],
    ids=["finish", "usage", "no bytes", "decoded"],
)
def test_the_end_and_chunks_without_bytes_of_their_own_are_declined(chunk: ChatChunk) -> None:
    client = Client()
    tap, progress, _ = tap_with(client)
    assert not tap.take(chunk)
    assert client.written == [] and not progress.started


def test_an_unarmed_closed_or_refusing_tap_declines_and_counts_nothing() -> None:
    unarmed, progress, _ = tap_with(None)
    assert not unarmed.take(MIDDLE) and not progress.started
    client = Client()
    closed, progress, _ = tap_with(client)
    closed.close()
    assert not closed.take(MIDDLE) and client.written == [] and not progress.started
    full = Client(accepts=False)
    refusing, progress, cap = tap_with(full)
    assert not refusing.take(MIDDLE) and not progress.started
    assert cap.allows(400), "a chunk the client's socket refused was counted"


def test_a_chunk_that_would_pass_the_output_cap_is_left_to_the_turn_to_cut() -> None:
    client = Client()
    tap, progress, _ = tap_with(client, cap_tokens=1)  # 4 characters
    assert tap.take(ChatChunk(content="abcd", wire=b"data: 1\n\n"))
    assert not tap.take(ChatChunk(content="e", wire=b"data: 2\n\n"))
    assert client.written == [b"data: 1\n\n"]
    assert progress.response("m").choices[0].message.text == "abcd"


def test_text_is_written_and_counted_and_what_the_client_refused_is_not_counted() -> None:
    client = Client()
    tap, progress, cap = tap_with(client, cap_tokens=2)  # 8 characters
    assert tap.take_text("abcd", b"data: 1\n\n")
    client.accepts = False
    assert not tap.take_text("efgh", b"data: 2\n\n")
    assert cap.allows(4) and not cap.allows(5), "refused text was counted against the cap"
    client.accepts = True
    assert not tap.take_text("efghi", b"data: 3\n\n"), "text past the cap was written"
    assert tap.take_text("efgh", b"data: 4\n\n")
    assert client.written == [b"data: 1\n\n", b"data: 4\n\n"]
    assert progress.response("m").choices[0].message.text == "abcdefgh"
    assert not tap_with(None)[0].take_text("x", b"data: 5\n\n")
