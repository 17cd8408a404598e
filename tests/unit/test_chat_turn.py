"""ChatTurn's early ends: an abandoned or failed stream is accounted exactly once, by one path,
and its session is given back uncommitted."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from gateway_core import ChatChunk, ChatOptions, ChatRequest, ChatResponse, Message, build_gateway
from gateway_core.domain.chat import OPENAI_CHAT_WIRE
from gateway_core.domain.relay_tap import RELAY_TAP
from gateway_core.domain.usage import Usage
from gateway_core.errors import UpstreamConnectionError
from gateway_core.functions import FunctionTool
from gateway_core.gateway import Gateway
from gateway_core.memory import InMemoryResponseCache
from gateway_core.testing import FakeClock, Reply, ScriptedProvider


class BreaksMidway:
    """A provider whose stream fails after a few words."""

    name = "breaks"

    async def complete(self, request: ChatRequest) -> ChatResponse:
        raise UpstreamConnectionError("gone", provider=self.name)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        yield ChatChunk(role="assistant", content="", model=request.model)
        for word in ("one ", "two ", "three "):
            yield ChatChunk(content=word)
        raise UpstreamConnectionError("the connection dropped", provider=self.name)


CLOCK_START = datetime(2026, 11, 26, 12, tzinfo=UTC).timestamp()


async def _requests_billed(gateway: Gateway, clock: FakeClock) -> int:
    await gateway.aclose()  # the clean-up of an early end runs in the background
    today = datetime.fromtimestamp(clock.now(), UTC).date()
    return sum(total.requests for total in await gateway.usage.totals(None, today, today))


def _request(text: str = "hi") -> ChatRequest:
    return ChatRequest(model="m", messages=(Message.user(text),), stream=True)


async def test_a_stream_failing_midway_is_billed_once_for_what_it_produced() -> None:
    clock = FakeClock(CLOCK_START)
    gateway = build_gateway([BreaksMidway()], clock=clock)
    session = await gateway.sessions.create(owner=None)
    turn = gateway.start(_request(), options=ChatOptions(session_id=session.id))
    chunks = await turn.open_stream()
    received = []
    with pytest.raises(UpstreamConnectionError):
        async for chunk in chunks:
            received.append(chunk.content)
    assert "".join(c or "" for c in received) == "one two three "
    assert await _requests_billed(gateway, clock) == 1
    assert turn.outcome.aborted
    assert turn.outcome.response is not None
    assert turn.outcome.response.usage.completion_tokens > 0  # estimated: none was reported
    stored = await gateway.sessions.get(session.id, None)
    assert stored.messages == ()


async def test_closing_an_abandoned_stream_twice_bills_it_once() -> None:
    clock = FakeClock(CLOCK_START)
    model = ScriptedProvider("scripted", default=Reply(text="word " * 20))
    gateway = build_gateway([model], clock=clock)
    turn = gateway.start(_request())
    chunks = await turn.open_stream()
    await anext(chunks)
    await anext(chunks)
    await chunks.aclose()
    await chunks.aclose()
    assert await _requests_billed(gateway, clock) == 1
    assert turn.outcome.aborted


async def test_a_turn_that_fails_before_any_chunk_bills_nothing_and_frees_the_session() -> None:
    clock = FakeClock(CLOCK_START)
    failing = ScriptedProvider("scripted", replies=[Reply(error=UpstreamConnectionError("down"))])
    gateway = build_gateway([failing], clock=clock)
    session = await gateway.sessions.create(owner=None)
    options = ChatOptions(session_id=session.id)
    with pytest.raises(UpstreamConnectionError):
        await gateway.start(_request(), options=options).open_stream()
    answer = await gateway.complete(_request("again"), options=options)  # the lock is free
    assert answer.choices[0].message.text == "again"
    assert await _requests_billed(gateway, clock) == 1  # the answered turn only


class Relaying:
    """A provider that relays its events as bytes when asked (``ChatRequest.relay``)."""

    name = "relaying"

    def __init__(self) -> None:
        self.relays: list[str | None] = []

    async def complete(self, request: ChatRequest) -> ChatResponse:
        raise NotImplementedError

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        self.relays.append(request.relay)
        relay = request.relay is not None
        yield ChatChunk(role="assistant", content="Hi", model="m-1", wire=b"<a>" if relay else None)
        yield ChatChunk(finish_reason="stop", native_finish_reason="stop",
                        wire=b"<end>" if relay else None)  # fmt: skip
        yield ChatChunk(usage=Usage(prompt_tokens=3, completion_tokens=1),
                        wire=b"<usage>" if relay else None)  # fmt: skip


async def test_a_relayed_streams_end_waits_for_the_accounting_as_bytes() -> None:
    provider = Relaying()
    gateway = build_gateway([provider], clock=FakeClock(CLOCK_START))
    session = await gateway.sessions.create(owner=None)
    options = ChatOptions(session_id=session.id)
    turn = gateway.start(replace(_request(), relay=OPENAI_CHAT_WIRE), options=options)
    chunks = await turn.open_stream()
    first = await anext(chunks)
    assert first.wire == b"<a>" and turn.outcome.response is None
    rest = [chunk async for chunk in chunks]
    assert [chunk.wire for chunk in rest] == [b"<end>", b"<usage>", b""]
    assert rest[-1].usage == Usage(prompt_tokens=3, completion_tokens=1)
    assert provider.relays == [OPENAI_CHAT_WIRE]
    response = turn.outcome.response
    assert response is not None and response.model == "m-1"
    assert response.choices[0].message.content == "Hi"
    stored = await gateway.sessions.get(session.id, None)
    assert [m.text for m in stored.messages] == ["hi", "Hi"]
    await gateway.aclose()


class RelayingWithExtras(Relaying):
    """Also notes whether the turn's tap asks for the events' unmodelled fields, and the
    request it was handed."""

    def __init__(self) -> None:
        super().__init__()
        self.extras: list[bool] = []
        self.requests: list[ChatRequest] = []

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        tap = RELAY_TAP.get()
        assert tap is not None  # a relayed turn's stream always starts with its tap
        self.extras.append(tap.extras)
        self.requests.append(request)
        async for chunk in super().stream(request):
            yield chunk


async def test_a_relayed_stream_carries_unmodelled_fields_only_when_something_keeps_it() -> None:
    provider = RelayingWithExtras()
    gateway = build_gateway([provider], cache=InMemoryResponseCache(FakeClock(CLOCK_START)),
                            clock=FakeClock(CLOCK_START))  # fmt: skip
    session = await gateway.sessions.create(owner=None)
    sampled = replace(_request(), relay=OPENAI_CHAT_WIRE)  # no temperature: never cached
    cached = replace(sampled, temperature=0.0)
    for request, options in (
        (sampled, ChatOptions()),
        (sampled, ChatOptions(session_id=session.id)),
        (cached, ChatOptions()),
    ):
        [_ async for _ in await gateway.start(request, options=options).open_stream()]
    assert provider.extras == [False, True, True]
    assert provider.requests[0] is sampled  # told on the tap, not in a copy of the request
    await gateway.aclose()


async def test_a_turn_running_gateway_tools_is_never_relayed() -> None:
    provider = Relaying()
    tool = FunctionTool("clock", "The time.", lambda: "noon")
    gateway = build_gateway([provider], tools=[tool], clock=FakeClock(CLOCK_START))
    options = ChatOptions(offer_all_tools=True)
    turn = gateway.start(replace(_request(), relay=OPENAI_CHAT_WIRE), options=options)
    chunks = [chunk async for chunk in await turn.open_stream()]
    assert provider.relays == [None]
    assert all(chunk.wire is None for chunk in chunks)
    assert "".join(chunk.content or "" for chunk in chunks) == "Hi"
    await gateway.aclose()


async def test_a_stream_closed_before_its_first_chunk_was_read_is_billed_once() -> None:
    clock = FakeClock(CLOCK_START)
    model = ScriptedProvider("scripted", default=Reply(text="word " * 20))
    gateway = build_gateway([model], clock=clock)
    turn = gateway.start(_request())
    chunks = await turn.open_stream()  # the first chunk is in, held for the door
    await chunks.aclose()
    assert await _requests_billed(gateway, clock) == 1
    assert turn.outcome.aborted
