"""One ChatProvider contract, run against every adapter through the fake upstream's real sockets.

Each behaviour is checked on ``complete()`` and on ``stream()``; a stream is judged by what the
official openai SDK's accumulator makes of it (see answers.py), and must equal
``complete()``'s answer. Vendor wire details stay in the per-vendor contract files.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import pytest

from gateway_core import errors
from gateway_core.domain.chat import ChatChunk
from gateway_core.domain.messages import Message
from gateway_core.domain.tools import ToolSpec
from gateway_core.domain.usage import Usage
from gateway_core.errors import ProviderError, UpstreamConnectionError
from gateway_core.ports.providers import ChatProvider
from gateway_http.errors import status_and_type
from tests.contract.providers.answers import Answer, answer, collect
from tests.contract.providers.chat_vendors import VENDORS, OpenProvider, ReplayedIds, Vendor
from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.fake_upstream.server import RETRY_AFTER_SECONDS

HANG_TIMEOUT = 0.3  # how long a HANG fault is waited for
WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)
MODES = pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])


def texts_sent(body: Any) -> list[str]:
    """Every string of a request body, depth first: where the client's words went, whatever
    the vendor's shape (Anthropic lifts the system prompt out of the messages, for one)."""
    if isinstance(body, str):
        return [body]
    items = body.values() if isinstance(body, dict) else body if isinstance(body, list) else ()
    return [text for item in items for text in texts_sent(item)]


# --- answers ---------------------------------------------------------------------------------


@MODES
async def test_a_plain_reply(
    provider: ChatProvider, fake_upstream: FakeUpstream, vendor: Vendor, streamed: bool
) -> None:
    fake_upstream.script(Turn(text="Rayleigh scattering.", prompt_tokens=26, completion_tokens=4))

    reply = await answer(provider, vendor.ask(), streamed=streamed)

    assert reply == Answer(
        role="assistant",
        text="Rayleigh scattering.",
        calls=(),
        finish_reason="stop",
        native_finish_reason=vendor.native_stop,
        usage=Usage(prompt_tokens=26, completion_tokens=4),
        model=vendor.model,
        tool_calls=(),
    )
    path = (vendor.stream_path or vendor.path) if streamed else vendor.path
    assert [recorded.path for recorded in fake_upstream.requests] == [path]


async def test_a_completion_names_its_id_time_and_provider(
    provider: ChatProvider, vendor: Vendor
) -> None:
    response = await provider.complete(vendor.ask())

    assert response.id and response.created > 0
    assert response.provider == vendor.name


@MODES
async def test_the_answering_model_is_reported(
    provider: ChatProvider, fake_upstream: FakeUpstream, vendor: Vendor, streamed: bool
) -> None:
    fake_upstream.script(Turn(model=f"{vendor.model}-2025-01-01"))

    reply = await answer(provider, vendor.ask(), streamed=streamed)

    # A vendor that names no model in its answers is reported as the model asked for.
    answering = f"{vendor.model}-2025-01-01" if vendor.reports_model else vendor.model
    assert reply.model == answering


@MODES
async def test_multi_turn_with_a_system_prompt(
    provider: ChatProvider, fake_upstream: FakeUpstream, vendor: Vendor, streamed: bool
) -> None:
    fake_upstream.script(Turn(text="Larger particles, all colours alike."))
    turns = ("Why is the sky blue?", "Rayleigh scattering.", "And how is Mie scattering different?")
    conversation = (
        Message.system("Answer in one sentence."),
        Message.user(turns[0]),
        Message.assistant(turns[1]),
        Message.user(turns[2]),
    )

    reply = await answer(provider, vendor.ask(*conversation), streamed=streamed)

    assert (reply.text, reply.finish_reason) == ("Larger particles, all colours alike.", "stop")
    sent = texts_sent(fake_upstream.requests[0].body)
    assert "Answer in one sentence." in sent
    assert [text for text in sent if text in turns] == list(turns)


@MODES
async def test_a_tool_call_round_trip(
    provider: ChatProvider, fake_upstream: FakeUpstream, vendor: Vendor, streamed: bool
) -> None:
    fake_upstream.script(
        Turn(text=None, tool_calls=(("get_weather", {"city": "Paris"}),)), Turn(text="Sunny.")
    )
    question = Message.user("Weather in Paris?")

    first = await answer(provider, vendor.ask(question, tools=(WEATHER,)), streamed=streamed)
    [(call_id, name, arguments)] = first.calls
    result = Message.tool_result(call_id, '{"temp_c": 21}')
    history = (question, Message.assistant(first.text, first.tool_calls), result)
    second = await answer(provider, vendor.ask(*history, tools=(WEATHER,)), streamed=streamed)

    assert call_id and (name, arguments) == ("get_weather", {"city": "Paris"})
    assert first.text is None
    assert (first.finish_reason, first.native_finish_reason) == (
        "tool_calls",
        vendor.native_tool_calls,
    )
    assert (second.text, second.finish_reason) == ("Sunny.", "stop")
    assert '{"temp_c": 21}' in texts_sent(fake_upstream.requests[1].body)


STREAMED_TURNS = {
    "text": Turn(text="Rayleigh scattering makes the sky look blue."),
    "two-calls-one-tool": Turn(
        text=None,
        tool_calls=(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Oslo"})),
    ),
    "text-and-calls": Turn(
        text="Let me check.",
        tool_calls=(("get_weather", {"city": "Oslo", "days": 2}), ("get_time", {"zone": "CET"})),
        prompt_tokens=2048,
        completion_tokens=30,
        cached_tokens=1920,
    ),
    "call-without-arguments": Turn(text=None, tool_calls=(("get_weather", {}),)),
}


@pytest.mark.parametrize("turn", STREAMED_TURNS.values(), ids=STREAMED_TURNS.keys())
async def test_a_stream_reassembled_by_the_openai_sdk_equals_complete(
    provider: ChatProvider,
    fake_upstream: FakeUpstream,
    vendor: Vendor,
    replayed_ids: ReplayedIds,
    turn: Turn,
) -> None:
    fake_upstream.script(turn, turn)
    request = vendor.ask(tools=(WEATHER,))

    completed = await answer(provider, request, streamed=False)
    replayed_ids.replay()
    streamed = await answer(provider, request, streamed=True)

    assert streamed == completed
    assert [name for _, name, _ in completed.calls] == [name for name, _ in turn.tool_calls]
    assert len({call_id for call_id, _, _ in completed.calls}) == len(turn.tool_calls)


async def test_a_stream_sends_role_then_pieces_then_finish_then_usage(
    provider: ChatProvider, fake_upstream: FakeUpstream, vendor: Vendor
) -> None:
    fake_upstream.script(Turn(text="The sky is blue because of Rayleigh scattering."))

    chunks = await collect(provider, vendor.ask())

    assert chunks[0].role == "assistant"
    pieces = [chunk.content for chunk in chunks if chunk.content]
    assert len(pieces) >= 3, "the text must arrive as the upstream sends it, not buffered"
    assert "".join(pieces) == "The sky is blue because of Rayleigh scattering."
    *_, final, last = chunks
    assert [chunk for chunk in chunks if chunk.finish_reason] == [final]
    assert [chunk for chunk in chunks if chunk.usage] == [last]
    assert (last.content, last.tool_calls, last.finish_reason) == (None, (), None)


FINISH_REASONS = [
    (vendor, native, expected)
    for vendor in VENDORS
    for native, expected in vendor.finish_reasons
]


@pytest.mark.parametrize(
    ("vendor", "native", "expected"), FINISH_REASONS, ids=str, indirect=["vendor"]
)
@MODES
async def test_finish_reasons(
    provider: ChatProvider,
    fake_upstream: FakeUpstream,
    vendor: Vendor,
    native: str,
    expected: str,
    streamed: bool,
) -> None:
    fake_upstream.script(Turn(finish=native))

    reply = await answer(provider, vendor.ask(), streamed=streamed)

    assert (reply.finish_reason, reply.native_finish_reason) == (expected, native)


@MODES
async def test_usage_with_cached_prompt_tokens(
    provider: ChatProvider, fake_upstream: FakeUpstream, vendor: Vendor, streamed: bool
) -> None:
    fake_upstream.script(Turn(prompt_tokens=1200, completion_tokens=30, cached_tokens=1000))

    reply = await answer(provider, vendor.ask(), streamed=streamed)

    cached = 1000 if vendor.reports_cached_tokens else 0
    assert reply.usage == Usage(prompt_tokens=1200, completion_tokens=30, cached_tokens=cached)


# --- faults ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    error: type[ProviderError]
    http_status: int
    """What the gateway answers its own client with."""


FAULTS = {
    Fault.RATE_LIMITED: Outcome(errors.UpstreamRateLimitError, 429),
    Fault.SERVER_ERROR: Outcome(errors.UpstreamServerError, 502),
    Fault.OVERLOADED: Outcome(errors.UpstreamOverloadedError, 503),
    Fault.UNAUTHORIZED: Outcome(errors.UpstreamAuthError, 502),  # our key, not the client's
    Fault.BAD_REQUEST: Outcome(errors.UpstreamBadRequestError, 400),
    Fault.QUOTES_CREDENTIALS: Outcome(errors.UpstreamBadRequestError, 400),
    Fault.HANG: Outcome(errors.UpstreamTimeoutError, 504),
    Fault.DROP_MID_STREAM: Outcome(errors.UpstreamConnectionError, 502),
    Fault.MALFORMED_JSON: Outcome(errors.UpstreamResponseError, 502),
}


def test_every_fault_has_an_outcome() -> None:
    assert set(FAULTS) == set(Fault)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.name)
@MODES
async def test_a_fault_becomes_its_domain_error_and_http_status(
    connect: OpenProvider,
    fake_upstream: FakeUpstream,
    vendor: Vendor,
    fault: Fault,
    streamed: bool,
) -> None:
    provider = await (connect(timeout=HANG_TIMEOUT) if fault is Fault.HANG else connect())
    fake_upstream.script(Turn(fault=fault))

    with pytest.raises(ProviderError) as raised:
        await answer(provider, vendor.ask(), streamed=streamed)

    error = raised.value
    assert type(error) is FAULTS[fault].error
    assert status_and_type(error)[0] == FAULTS[fault].http_status
    assert (error.provider, error.status) == (vendor.name, vendor.upstream_statuses.get(fault))
    says_when = fault is Fault.RATE_LIMITED and vendor.reports_retry_after
    expected_retry_after = RETRY_AFTER_SECONDS if says_when else None
    assert error.retry_after == expected_retry_after
    assert not [secret for secret in vendor.secrets if secret in f"{error} {error!r}"]
    if fault is Fault.QUOTES_CREDENTIALS:  # whatever of the message is kept, no credential
        assert "sk-" not in error.message and "Bearer sk" not in repr(error)


async def test_a_stream_cut_short_delivers_what_arrived_then_fails(
    provider: ChatProvider, fake_upstream: FakeUpstream, vendor: Vendor
) -> None:
    fake_upstream.script(Turn(text="one two three four five six", fault=Fault.DROP_MID_STREAM))
    received: list[ChatChunk] = []

    with pytest.raises(UpstreamConnectionError):
        async for chunk in provider.stream(vendor.ask()):
            received.append(chunk)

    assert received and received[0].role == "assistant"


@MODES
async def test_nothing_listening_is_a_connection_error(
    connect: OpenProvider, vendor: Vendor, streamed: bool
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = await connect(base_url=f"http://127.0.0.1:{port}")

    with pytest.raises(UpstreamConnectionError) as raised:
        await answer(provider, vendor.ask(), streamed=streamed)

    assert status_and_type(raised.value)[0] == 502
