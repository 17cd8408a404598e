"""What a session sends the model, and what a turn saves: over real HTTP, real Redis, and fake
upstreams on real sockets (their recorded requests show exactly what the model was sent).

``slow-gpt`` is answered by an upstream that streams one word every ``SLOW_EVENT_SECONDS``,
so a client can walk away from a stream while the gateway is still relaying it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from aiohttp import web

from tests.integration.session_calls import (
    CHAT,
    chat,
    create_session,
    gateway_env,
    read_session,
    reply_of,
    turns,
)
from tests.support.background_loop import BackgroundLoop
from tests.support.fake_upstream import FakeUpstream, Fault, Turn, openai_wire
from tests.support.gateway import GatewayProcess

LOCK_TIMEOUT_SECONDS = 3
"""Short, so a lock an aborted stream failed to release shows up as a quick 409."""
UPSTREAM_TIMEOUT_SECONDS = 1.5
"""Per read: the slow upstream's pauses are far shorter; a hung upstream fails the turn fast."""
SLOW_EVENT_SECONDS = 0.05
LONG_TEXT = " ".join(f"word{n}" for n in range(400))
"""About 20 s at the slow upstream's pace: no client reads it to the end by accident."""
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


class SlowStreams:
    """OpenAI-dialect streams paced one event at a time; counts how each one ended."""

    def __init__(self) -> None:
        self.completed = 0
        self.cut = 0

    async def render(
        self, upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
    ) -> web.StreamResponse:
        if not body.get("stream"):
            return await openai_wire.render(upstream, request, body, turn)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            for event in openai_wire.chunk_events(turn, body["model"], include_usage=True):
                await response.write(f"data: {json.dumps(event)}\n\n".encode())
                await asyncio.sleep(SLOW_EVENT_SECONDS)
            await response.write(b"data: [DONE]\n\n")
        except (ConnectionError, asyncio.CancelledError):
            self.cut += 1
            raise
        self.completed += 1
        return response


@pytest.fixture(scope="session")
def slow_streams(background_loop: BackgroundLoop) -> Iterator[tuple[FakeUpstream, SlowStreams]]:
    streams = SlowStreams()
    upstream = FakeUpstream()
    upstream.route(openai_wire.PATH, streams.render)
    background_loop.run(upstream.start())
    yield upstream, streams
    background_loop.run(upstream.stop())


def _providers(fake_url: str, slow_url: str) -> dict:
    timeout = {"timeout_seconds": UPSTREAM_TIMEOUT_SECONDS}
    return {
        "providers": {
            "fake-openai": {"type": "openai", "base_url": f"{fake_url}/v1", **timeout},
            # Not the short timeout: the gateway's first Anthropic call takes ~2 s to warm up.
            "fake-anthropic": {"type": "anthropic", "base_url": fake_url, "timeout_seconds": 10},
            "slow-openai": {"type": "openai", "base_url": f"{slow_url}/v1", **timeout},
        },
        "models": {
            "gpt-4o": {"provider": "fake-openai"},
            "claude-sonnet-4-5-20250929": {"provider": "fake-anthropic"},
            "slow-gpt": {"provider": "slow-openai"},
        },
    }


@pytest.fixture(scope="session")
def history_gateway(
    redis_url: str,
    fake_upstream_server: FakeUpstream,
    slow_streams: tuple[FakeUpstream, SlowStreams],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayProcess]:
    config = Path(tmp_path_factory.mktemp("sessions")) / "providers.json"
    config.write_text(json.dumps(_providers(fake_upstream_server.url, slow_streams[0].url)))
    env = gateway_env(
        redis_url,
        LLM_GATEWAY_PROVIDERS_CONFIG=str(config),
        LLM_GATEWAY_SESSION_LOCK_TIMEOUT_SECONDS=str(LOCK_TIMEOUT_SECONDS),
        # The fake Anthropic answers 401 unless a key is sent.
        LLM_GATEWAY_FAKE_ANTHROPIC_API_KEY="sk-ant-fake-sessions-key",
    )
    with GatewayProcess(env) as gateway:
        yield gateway


@pytest.fixture
def http(history_gateway: GatewayProcess, fake_upstream: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=history_gateway.url, timeout=30) as client:
        yield client


def _sent(upstream: FakeUpstream) -> list[tuple[str, Any]]:
    """``(role, content)`` of each message of the upstream's last request (OpenAI dialect)."""
    return [(m["role"], m["content"]) for m in upstream.requests[-1].body["messages"]]


def _say(
    http: httpx.Client, session_id: str, *messages: tuple[str, str], model: str = "gpt-4o"
) -> str:
    """One turn of ``(role, content)`` messages; the reply's text."""
    wire = [{"role": role, "content": content} for role, content in messages]
    return reply_of(
        http.post(CHAT, json={"model": model, "session_id": session_id, "messages": wire})
    )


def test_the_history_goes_before_the_new_messages(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    session_id = create_session(http)["id"]
    fake_upstream.script(Turn(text="Paris."), Turn(text="About 2.1 million."))
    tutor, question = ("system", "You are a geography tutor."), ("user", "Capital of France?")
    assert _say(http, session_id, tutor, question) == "Paris."
    assert _say(http, session_id, ("user", "Its population?")) == "About 2.1 million."
    assert _sent(fake_upstream) == [
        tutor, question, ("assistant", "Paris."), ("user", "Its population?"),
    ]  # fmt: skip


def test_a_later_system_message_replaces_the_stored_one_for_that_call_only(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    session_id = create_session(http)["id"]
    fake_upstream.script(Turn(text="one"), Turn(text="two"))
    formal, brief = ("system", "Be formal."), ("system", "Be brief.")
    assert _say(http, session_id, formal, ("user", "hi")) == "one"
    assert _say(http, session_id, brief, ("user", "again")) == "two"
    assert _sent(fake_upstream) == [brief, ("user", "hi"), ("assistant", "one"), ("user", "again")]
    assert turns(read_session(http, session_id)["messages"]) == [
        formal, ("user", "hi"), ("assistant", "one"), ("user", "again"), ("assistant", "two"),
    ]  # fmt: skip


def test_history_reaches_an_anthropic_model_in_its_own_shape(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    session_id = create_session(http)["id"]
    fake_upstream.script(Turn(text="Paris."), Turn(text="Yes."))
    model = "claude-sonnet-4-5-20250929"
    terse, capital = ("system", "Be terse."), ("user", "Capital?")
    assert _say(http, session_id, terse, capital, model=model) == "Paris."
    assert _say(http, session_id, ("user", "Sure?"), model=model) == "Yes."
    sent = fake_upstream.requests[-1].body
    assert "Be terse." in json.dumps(sent["system"])
    texts = [(m["role"], json.dumps(m["content"])) for m in sent["messages"]]
    assert [role for role, _ in texts] == ["user", "assistant", "user"]
    assert all(word in text for word, (_, text) in zip(["Capital?", "Paris.", "Sure?"], texts, strict=True))


def test_client_side_tool_calls_and_results_are_kept_in_order(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    session_id = create_session(http)["id"]
    fake_upstream.script(Turn(tool_calls=(("get_weather", {"city": "Paris"}),), text=None),
                         Turn(text="Sunny in Paris."))  # fmt: skip
    asked = chat(http, session_id, "Weather in Paris?", model="gpt-4o", tools=[WEATHER_TOOL])
    call = asked.json()["choices"][0]["message"]["tool_calls"][0]
    result = {"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21 C"}
    answered = http.post(CHAT, json={"model": "gpt-4o", "session_id": session_id,
                                     "tools": [WEATHER_TOOL], "messages": [result]})  # fmt: skip
    assert reply_of(answered) == "Sunny in Paris."
    sent = fake_upstream.requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == call["id"] == sent[2]["tool_call_id"]
    stored = read_session(http, session_id)["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant", "tool", "assistant"]
    assert stored[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert stored[2] == result


@pytest.mark.parametrize("fault", [Fault.SERVER_ERROR, Fault.BAD_REQUEST, Fault.HANG])
def test_a_failed_turn_appends_nothing(
    http: httpx.Client, fake_upstream: FakeUpstream, fault: Fault
) -> None:
    session_id = create_session(http)["id"]
    fake_upstream.script(Turn(text="kept"), Turn(fault=fault), Turn(text="after"))
    assert _say(http, session_id, ("user", "first")) == "kept"
    assert chat(http, session_id, "lost", model="gpt-4o").status_code in (400, 502, 504)
    assert _say(http, session_id, ("user", "second")) == "after"
    assert _sent(fake_upstream) == [("user", "first"), ("assistant", "kept"), ("user", "second")]
    assert turns(read_session(http, session_id)["messages"]) == [
        ("user", "first"), ("assistant", "kept"), ("user", "second"), ("assistant", "after"),
    ]  # fmt: skip


def test_a_stream_that_fails_mid_way_appends_nothing(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    session_id = create_session(http)["id"]
    fake_upstream.script(Turn(text="one two three four five", fault=Fault.DROP_MID_STREAM))
    response = chat(http, session_id, "count", model="gpt-4o", stream=True)
    assert response.status_code == 200 and '"error"' in response.text
    assert read_session(http, session_id)["messages"] == []


def test_a_streamed_turn_is_saved_when_it_completes(
    history_gateway: GatewayProcess, http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    session_id = create_session(http)["id"]
    text = "Streams arrive in pieces and are saved whole."
    fake_upstream.script(Turn(text=text))
    sdk = openai.OpenAI(base_url=f"{history_gateway.url}/v1", api_key="unused", max_retries=0)
    stream = sdk.chat.completions.create(
        model="gpt-4o", stream=True, extra_body={"session_id": session_id},
        messages=[{"role": "user", "content": "Tell me about streams."}],
    )  # fmt: skip
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    assert len(pieces) > 2 and "".join(pieces) == text
    assert turns(read_session(http, session_id)["messages"]) == [
        ("user", "Tell me about streams."), ("assistant", text),
    ]  # fmt: skip


def test_an_aborted_stream_is_not_saved_and_frees_the_session_at_once(
    http: httpx.Client, fake_upstream: FakeUpstream, slow_streams: tuple[FakeUpstream, SlowStreams]
) -> None:
    slow_upstream, streams = slow_streams
    cut_before = streams.cut
    session_id = create_session(http)["id"]
    fake_upstream.script(Turn(text="first answer"), Turn(text="third answer"))
    assert _say(http, session_id, ("user", "first")) == "first answer"
    slow_upstream.script(Turn(text=LONG_TEXT))

    body = {"model": "slow-gpt", "session_id": session_id, "stream": True,
            "messages": [{"role": "user", "content": "abandoned"}]}  # fmt: skip
    with http.stream("POST", CHAT, json=body) as response:
        assert response.status_code == 200
        lines = (line for line in response.iter_lines() if line.startswith("data:"))
        received = [next(lines) for _ in range(4)]
    assert any("word" in line for line in received), "the stream was under way"

    started = time.monotonic()
    assert _say(http, session_id, ("user", "third")) == "third answer"
    assert time.monotonic() - started < LOCK_TIMEOUT_SECONDS / 2, "the lock was released at once"
    history = [("user", "first"), ("assistant", "first answer"), ("user", "third")]
    assert _sent(fake_upstream) == history
    assert turns(read_session(http, session_id)["messages"]) == [
        *history, ("assistant", "third answer"),
    ]  # fmt: skip
    deadline = time.monotonic() + 2
    while streams.cut == cut_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert streams.cut == cut_before + 1, "the gateway stopped reading the upstream's stream"
