"""The tool loop with stream: one well-formed stream to the client over several model rounds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse
from gateway_core.domain.messages import Message
from gateway_core.domain.tools import ToolSpec
from gateway_core.domain.usage import Usage
from gateway_core.testing import FakeClock, Reply
from gateway_core.use_cases.tool_loop import (
    TOOL_CALLS_LIMIT,
    ToolLoop,
    ToolLoopResult,
    ToolLoopStream,
)
from tests.unit.tools.fakes import RecordingBackend, execute_tool, tool_loop


def _request(*tools: ToolSpec) -> ChatRequest:
    return ChatRequest(model="m", messages=(Message.user("Hi"),), tools=tools, stream=True)


async def _drain(stream: ToolLoopStream) -> tuple[list[ChatChunk], ToolLoopResult | None]:
    """All chunks; and the result as it was when the finish chunk arrived."""
    chunks: list[ChatChunk] = []
    at_finish = None
    async for chunk in stream:
        if chunk.finish_reason is not None:
            at_finish = stream.result
        chunks.append(chunk)
    return chunks, at_finish


def _assert_well_formed(chunks: list[ChatChunk]) -> None:
    """One role chunk first, one finish chunk, one usage chunk last."""
    assert chunks[0].role == "assistant"
    assert [c for c in chunks if c.role is not None] == [chunks[0]]
    assert len([c for c in chunks if c.finish_reason is not None]) == 1
    assert chunks[-2].finish_reason is not None
    assert chunks[-1].usage is not None and [c for c in chunks if c.usage] == [chunks[-1]]


def _text(chunks: list[ChatChunk]) -> str:
    return "".join(chunk.content or "" for chunk in chunks)


async def test_rounds_are_consumed_server_side_and_the_final_answer_is_streamed() -> None:
    replies = [
        Reply(tool_calls=(("search_corpus", {"query": "a"}),), usage=Usage(10, 4)),
        Reply(text="Rate limiting caps requests.", usage=Usage(25, 6)),
    ]
    loop, provider, backend = tool_loop(replies)
    chunks, at_finish = await _drain(loop.stream(_request(ToolSpec("search_corpus"))))

    _assert_well_formed(chunks)
    assert all(chunk.tool_calls == () for chunk in chunks)
    assert _text(chunks) == "Rate limiting caps requests."
    assert len([c for c in chunks if c.content]) > 1, "the answer arrives as it is generated"
    assert chunks[-2].finish_reason == "stop"
    assert chunks[-1].usage == Usage(35, 10)
    assert len(provider.requests) == 2 and len(backend.calls) == 1
    assert at_finish is not None
    assert [run.name for run in at_finish.tool_runs] == ["search_corpus"]
    assert [m.role for m in at_finish.exchange] == ["assistant", "tool", "assistant"]
    assert at_finish.exchange[-1].text == "Rate limiting caps requests."


async def test_text_written_beside_tool_calls_is_streamed_with_a_separator() -> None:
    replies = [
        Reply(text="Let me look.", tool_calls=(("echo", {"text": "x"}),)),
        Reply(text="Found it."),
    ]
    loop, _, _ = tool_loop(replies)
    chunks, result = await _drain(loop.stream(_request(ToolSpec("echo"))))
    _assert_well_formed(chunks)
    assert _text(chunks) == "Let me look.\n\nFound it."
    assert result is not None
    texts = [m.text for m in result.exchange if m.role == "assistant"]
    assert texts == ["Let me look.", "Found it."]
    assert json.loads(result.exchange[1].text) == {"text": "x"}


async def test_a_client_tool_turn_streams_all_its_tool_calls() -> None:
    client_tool = ToolSpec("lookup_order", "", {"type": "object"})
    mixed = Reply(tool_calls=(("search_corpus", {"query": "a"}), ("lookup_order", {"id": 1})))
    loop, _, backend = tool_loop([mixed])
    chunks, result = await _drain(loop.stream(_request(ToolSpec("search_corpus"), client_tool)))

    _assert_well_formed(chunks)
    deltas = [delta for chunk in chunks for delta in chunk.tool_calls]
    assert [(d.index, d.name, json.loads(d.arguments)) for d in deltas] == [
        (0, "search_corpus", {"query": "a"}),
        (1, "lookup_order", {"id": 1}),
    ]
    assert chunks[-2].finish_reason == "tool_calls"
    assert backend.calls == []
    assert result is not None and result.tool_runs == ()


async def test_a_stream_that_keeps_calling_tools_stops_at_the_limit() -> None:
    loop, provider, backend = tool_loop([], max_rounds=1)
    provider.default = Reply(tool_calls=(("search_corpus", {"query": "x"}),))
    stream = loop.stream(_request(ToolSpec("search_corpus")))
    chunks, result = await _drain(stream)

    _assert_well_formed(chunks)
    assert chunks[-2].finish_reason == TOOL_CALLS_LIMIT
    assert all(chunk.tool_calls == () for chunk in chunks)
    assert len(backend.calls) == 1
    assert result is not None and result.notice is not None
    assert result.exchange[-1].tool_calls == ()


async def test_the_result_is_not_there_before_the_answer_ends() -> None:
    loop, _, _ = tool_loop([Reply(text="one two three")])
    stream = loop.stream(_request())
    first = await anext(stream)
    assert first.role == "assistant"
    assert stream.result is None
    await stream.aclose()


async def test_failing_tools_do_not_break_the_stream() -> None:
    replies = [Reply(tool_calls=(("echo", {"text": 5}),)), Reply(text="recovered")]
    loop, _, _ = tool_loop(replies)
    chunks, result = await _drain(loop.stream(_request(ToolSpec("echo"))))
    _assert_well_formed(chunks)
    assert _text(chunks) == "recovered"
    assert result is not None
    assert result.tool_runs[0].error_code == "invalid_tool_arguments"


class _ObservedStream:
    """A chat completer whose stream records whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    async def complete(self, request: ChatRequest) -> ChatResponse:
        raise AssertionError("the stream test never completes")

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        try:
            yield ChatChunk(role="assistant", content="")
            for word in ("one", " two", " three"):
                yield ChatChunk(content=word)
        finally:
            self.closed = True


async def test_a_client_that_leaves_early_closes_the_model_stream_at_once() -> None:
    completer = _ObservedStream()
    loop = ToolLoop(completer, execute_tool(RecordingBackend()), clock=FakeClock())
    stream = loop.stream(_request(ToolSpec("echo")))
    assert (await anext(stream)).role == "assistant"
    assert (await anext(stream)).content == "one"
    await stream.aclose()
    assert completer.closed
