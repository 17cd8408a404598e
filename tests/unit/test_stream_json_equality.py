"""A streamed answer, put back together, equals the same answer served as JSON: what the
session and the response cache keep of it does not depend on how it was asked for (issue 12).

The bodies are the fake OpenAI upstream's (the ones the end-to-end tests are served), read
by the OpenAI adapter's wire functions, then, for the stream, by the ``StreamAccumulator``;
and a stored answer replayed as a stream comes back whole."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from gateway_adapters.providers.openai.wire import decode_chunk, decode_response
from gateway_core.domain.chat import ChatResponse
from gateway_core.domain.stream_accumulator import StreamAccumulator
from gateway_core.use_cases.turn_cache import replay
from tests.support.fake_upstream import Turn
from tests.support.fake_upstream.openai_wire import chunk_events, completion

CITATION = {"type": "url_citation", "url_citation": {"url": "https://example.com", "title": "x"}}
TURNS = {
    "refusal": Turn(text=None, refusal="I can't help with that.", message_fields=(("annotations", []),)),
    "reasoning and logprobs": Turn(
        text="Hello there, friend.", reasoning="A greeting: greet back.", reasoning_tokens=4,
        message_fields=(("annotations", [CITATION]), ("x_vendor_note", {"kept": [1, 2]})),
    ),
    "tool call": Turn(text=None, tool_calls=(("get_weather", {"city": "Paris"}),),
                      message_fields=(("annotations", []),)),
}  # fmt: skip


def _comparable(response: ChatResponse) -> ChatResponse:
    """Everything but what names one delivery (id, created) and the provider label."""
    return replace(response, id="", created=0)


def _streamed(turn: Turn) -> ChatResponse:
    accumulator = StreamAccumulator()
    for event in chunk_events(turn, "gpt-4o", include_usage=True, wants_logprobs=True):
        for chunk in decode_chunk(json.dumps(event), "fake-openai"):
            accumulator.add(chunk)
    return replace(accumulator.response("gpt-4o"), provider="fake-openai")


@pytest.mark.parametrize("turn", TURNS.values(), ids=TURNS.keys())
def test_a_streamed_answer_equals_the_json_one(turn: Turn) -> None:
    body = completion(turn, "gpt-4o", wants_logprobs=True)
    as_json = decode_response(json.dumps(body).encode(), "fake-openai")
    assert _comparable(_streamed(turn)) == _comparable(as_json)


@pytest.mark.parametrize("turn", TURNS.values(), ids=TURNS.keys())
def test_a_stored_answer_replayed_as_a_stream_comes_back_whole(turn: Turn) -> None:
    stored = _streamed(turn)

    async def replayed() -> ChatResponse:
        accumulator = StreamAccumulator()
        async for chunk in replay(stored):
            accumulator.add(chunk)
        return accumulator.response("gpt-4o")

    assert _comparable(asyncio.run(replayed())) == _comparable(stored)
