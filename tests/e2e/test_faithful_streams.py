"""Faithful on the wire, streamed (issue 12): the official openai SDK streams through the real
gateway from the recording fake upstream. Response fields reach the client in stream chunks;
a streamed answer's cache and session copies equal the JSON answer's; dropped parameters are
reported on streams, and ``drop_params`` set in providers.json drops and reports too."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pydantic
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.support.fake_upstream import FakeUpstream, Turn
from tests.support.gateway import GatewayProcess

HELLO = [{"role": "user", "content": "Hello"}]
CLAUDE = "claude-sonnet-4-5-20250929"
CITATION = {
    "type": "url_citation",
    "url_citation": {"url": "https://example.com", "title": "Example", "start_index": 0, "end_index": 5},
}
DROPPED = "x-gateway-dropped-params"


def _chunks(stream: Any) -> list[ChatCompletionChunk]:
    return list(stream)


def _deltas(chunks: list[ChatCompletionChunk], name: str) -> str:
    """The pieces of one delta field, joined (a field the SDK does not model included)."""
    pieces = []
    for chunk in chunks:
        for choice in chunk.choices:
            value = getattr(choice.delta, name, None)
            if value is None:
                value = (choice.delta.model_extra or {}).get(name)
            if isinstance(value, str):
                pieces.append(value)
    return "".join(pieces)


def _gateway_ext(chunks: list[ChatCompletionChunk]) -> dict[str, Any]:
    return next(
        extra["x_gateway"]
        for chunk in reversed(chunks)
        if "x_gateway" in (extra := chunk.model_extra or {}) and chunk.choices
    )


def _chat_bodies(fake_upstream: FakeUpstream) -> list[dict[str, Any]]:
    return [r.body for r in fake_upstream.requests if r.path.endswith("/chat/completions")]


# -- response fields in stream chunks --------------------------------------------------------


def test_stream_chunks_carry_logprobs_reasoning_and_usage_details(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(
        Turn(text="Hello there", reasoning="The user greets me.", reasoning_tokens=5,
             message_fields=(("x_vendor_note", {"kept": True}),))
    )  # fmt: skip
    chunks = _chunks(
        client.chat.completions.create(
            model="gpt-4o", messages=HELLO, logprobs=True, top_logprobs=1, stream=True,
            stream_options={"include_usage": True}, max_completion_tokens=64,
        )
    )  # fmt: skip
    sent = _chat_bodies(fake_upstream)[0]
    assert (sent["logprobs"], sent["top_logprobs"], sent["max_completion_tokens"]) == (True, 1, 64)
    assert "max_tokens" not in sent
    assert _deltas(chunks, "content") == "Hello there"
    assert _deltas(chunks, "reasoning_content") == "The user greets me."
    tokens = [
        entry.token
        for chunk in chunks
        for choice in chunk.choices
        if choice.logprobs is not None and choice.logprobs.content
        for entry in choice.logprobs.content
    ]
    assert tokens == ["Hello", " there"]
    notes = [
        (c.delta.model_extra or {}).get("x_vendor_note") for chunk in chunks for c in chunk.choices
    ]
    assert {"kept": True} in notes
    with_choices = [chunk for chunk in chunks if chunk.choices]
    assert {chunk.service_tier for chunk in with_choices} == {"default"}
    assert {chunk.system_fingerprint for chunk in with_choices[:-1]} == {"fp_fake0001"}
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 5


def test_a_streamed_refusal_reaches_the_client(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text=None, refusal="I can't help with that."))
    chunks = _chunks(client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True))
    assert _deltas(chunks, "refusal") == "I can't help with that."
    assert _deltas(chunks, "content") == ""


class Weather(pydantic.BaseModel):
    city: str


def test_a_streamed_refusal_reaches_the_sdks_stream_helper(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text=None, refusal="I can't help with that."))
    with client.chat.completions.stream(
        model="gpt-4o", messages=HELLO, response_format=Weather  # type: ignore[arg-type]
    ) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert (message.refusal, message.parsed) == ("I can't help with that.", None)


# -- a streamed answer's cache copy equals the JSON answer's ---------------------------------


def _comparable(completion: ChatCompletion) -> dict[str, Any]:
    """All but what names one delivery (id, created) and the gateway's own additions."""
    body = completion.model_dump(exclude={"id", "created"})
    body.pop("x_gateway", None)
    return body


def _first_delta(chunks: list[ChatCompletionChunk]) -> dict[str, Any]:
    return next(chunk for chunk in chunks if chunk.choices).choices[0].delta.model_dump()


@pytest.mark.parametrize(
    ("model", "turn"),
    [
        ("gpt-4o", Turn(text="Hello there", reasoning="A greeting.", reasoning_tokens=3,
                        message_fields=(("annotations", [CITATION]), ("x_vendor_note", {"kept": [1]})))),
        ("gpt-4o", Turn(text=None, refusal="I can't help with that.",
                        message_fields=(("annotations", []),))),
        (CLAUDE, Turn(text="Sunny.", reasoning="Look outside first.")),
    ],
    ids=["openai extras", "openai refusal", "anthropic thinking"],
)  # fmt: skip
def test_a_cached_streamed_answer_equals_the_json_answer(
    client: openai.OpenAI, fake_upstream: FakeUpstream, model: str, turn: Turn
) -> None:
    fake_upstream.script(turn, turn)
    ask: dict[str, Any] = {"model": model, "temperature": 0}
    if model == "gpt-4o":
        ask["logprobs"] = True
    # Two questions (two cache entries) that the fake answers alike: one asked as JSON, the
    # other streamed first, then asked again as JSON and as a stream (cache hits).
    probe = f"{model} {turn.refusal} {turn.reasoning}"
    fresh = client.chat.completions.create(**ask, messages=[{"role": "user", "content": f"JSON {probe}"}])
    streamed_ask = {**ask, "messages": [{"role": "user", "content": f"Stream {probe}"}]}
    streamed = _chunks(client.chat.completions.create(**streamed_ask, stream=True))
    hit = client.chat.completions.with_raw_response.create(**streamed_ask)
    hit_stream = client.chat.completions.with_raw_response.create(**streamed_ask, stream=True)
    assert len(fake_upstream.requests) == 2, "the last two answers come from the response cache"
    assert (hit.headers["x-gateway-cache"], hit_stream.headers["x-gateway-cache"]) == ("HIT", "HIT")

    # As JSON, the cached streamed answer is the JSON answer, field for field.
    assert _comparable(hit.parse()) == _comparable(fresh)
    message = fresh.choices[0].message
    extra = message.model_extra or {}
    if turn.reasoning is not None:
        assert extra["reasoning_content"] == turn.reasoning
    if model == CLAUDE:
        assert extra["thinking_blocks"][0]["signature"].startswith("sig-")
    # As a stream, the replay carries the same message fields and logprobs in its first chunk.
    replayed = _chunks(hit_stream.parse())
    delta = _first_delta(replayed)
    for name in ("refusal", "reasoning_content", "thinking_blocks", "annotations", "x_vendor_note"):
        assert delta.get(name) == message.model_dump().get(name), name
    first = next(chunk for chunk in replayed if chunk.choices)
    assert first.choices[0].model_dump()["logprobs"] == fresh.choices[0].model_dump()["logprobs"]
    assert first.service_tier == fresh.service_tier
    # The live stream showed the same answer as the replay does.
    assert _deltas(streamed, "content") == _deltas(replayed, "content")
    assert _deltas(streamed, "reasoning_content") == _deltas(replayed, "reasoning_content")
    assert _deltas(streamed, "refusal") == _deltas(replayed, "refusal")


# -- a streamed turn's session copy equals a JSON turn's -------------------------------------


@pytest.mark.parametrize(
    ("model", "turn"),
    [
        # The fake's JSON answer has "annotations": [] always, its stream only when scripted.
        ("gpt-4o", Turn(text=None, refusal="I can't help with that.", reasoning="Policy says no.",
                        message_fields=(("annotations", []),))),
        (CLAUDE, Turn(text="Hi!", reasoning="A greeting: answer in kind.")),
    ],
    ids=["openai refusal and reasoning", "anthropic thinking"],
)
def test_a_streamed_turn_is_kept_in_the_session_as_a_json_turn_is(
    client: openai.OpenAI,
    e2e_gateway: GatewayProcess,
    fake_upstream: FakeUpstream,
    model: str,
    turn: Turn,
) -> None:
    fake_upstream.script(turn, turn)
    with httpx.Client(base_url=e2e_gateway.url) as http:
        as_json, as_stream = (http.post("/v1/sessions", json={}).json()["id"] for _ in range(2))
        client.chat.completions.create(model=model, messages=HELLO, extra_body={"session_id": as_json})
        _chunks(
            client.chat.completions.create(
                model=model, messages=HELLO, stream=True, extra_body={"session_id": as_stream}
            )
        )
        json_history = http.get(f"/v1/sessions/{as_json}").json()["messages"]
        stream_history = http.get(f"/v1/sessions/{as_stream}").json()["messages"]
    assert stream_history == json_history
    answer = json_history[-1]
    assert answer["reasoning_content"] == turn.reasoning
    if turn.refusal is not None:
        assert answer["extra"]["refusal"] == turn.refusal
    else:
        assert answer["extra"]["thinking_blocks"][0]["thinking"] == turn.reasoning


# -- dropped parameters on streams, and drop_params in the configuration ---------------------


def _stream_with_headers(
    client: openai.OpenAI, **ask: Any
) -> tuple[httpx.Headers, list[ChatCompletionChunk]]:
    raw = client.chat.completions.with_raw_response.create(messages=HELLO, stream=True, **ask)
    return raw.headers, _chunks(raw.parse())


@pytest.mark.parametrize("model", [CLAUDE, "llama3.2", "echo"])
def test_a_stream_reports_what_drop_params_dropped(
    client: openai.OpenAI, fake_upstream: FakeUpstream, model: str
) -> None:
    headers, chunks = _stream_with_headers(
        client, model=model, logprobs=True, top_logprobs=2, extra_body={"drop_params": True}
    )
    assert headers[DROPPED] == "logprobs,top_logprobs"
    assert headers["content-type"].startswith("text/event-stream")
    assert _gateway_ext(chunks)["dropped_params"] == ["logprobs", "top_logprobs"]
    assert _deltas(chunks, "content")
    assert all("logprobs" not in r.body for r in fake_upstream.requests)


@pytest.mark.parametrize("model", ["claude-lenient", "claude-route-lenient", f"lenient/{CLAUDE}"])
def test_drop_params_in_the_configuration_drops_and_reports(
    client: openai.OpenAI, fake_upstream: FakeUpstream, model: str
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=HELLO, logprobs=True, frequency_penalty=0.5
    )
    assert set(raw.headers[DROPPED].split(",")) == {"logprobs", "frequency_penalty"}
    dropped = (raw.parse().model_extra or {})["x_gateway"]["dropped_params"]
    assert raw.headers[DROPPED] == ",".join(dropped)
    headers, chunks = _stream_with_headers(client, model=model, logprobs=True)
    assert headers[DROPPED] == "logprobs"
    assert _gateway_ext(chunks)["dropped_params"] == ["logprobs"]
    bodies = [r.body for r in fake_upstream.requests if r.path == "/v1/messages"]
    assert len(bodies) == 2
    assert all("logprobs" not in body and "frequency_penalty" not in body for body in bodies)


@pytest.mark.parametrize("stream", [False, True])
def test_a_route_that_says_false_refuses_by_name(client: openai.OpenAI, stream: bool) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="claude-lenient-but-strict", messages=HELLO, logprobs=True, stream=stream
        )
    body = refused.value.body
    assert (body["code"], body["param"]) == ("unsupported_parameter", "logprobs")  # type: ignore[index]
    assert "fake-anthropic-lenient" in body["message"]  # type: ignore[index]


def test_a_route_that_says_false_still_drops_when_the_request_asks(
    client: openai.OpenAI,
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="claude-lenient-but-strict", messages=HELLO, logprobs=True,
        extra_body={"drop_params": True},
    )  # fmt: skip
    assert raw.headers[DROPPED] == "logprobs"


def test_a_cache_hit_reports_what_its_answer_dropped(client: openai.OpenAI) -> None:
    ask: dict[str, Any] = {
        "model": CLAUDE, "messages": [{"role": "user", "content": "Cache the drops"}],
        "temperature": 0, "logprobs": True,
    }  # fmt: skip
    first = client.chat.completions.with_raw_response.create(**ask, extra_body={"drop_params": True})
    again = client.chat.completions.with_raw_response.create(**ask, extra_body={"drop_params": True})
    assert (first.headers["x-gateway-cache"], again.headers["x-gateway-cache"]) == ("MISS", "HIT")
    assert again.headers[DROPPED] == "logprobs"
    # Without the opt-in the same question is refused, not served the answer that dropped.
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(**ask)


def test_nothing_dropped_no_header(client: openai.OpenAI) -> None:
    headers, _ = _stream_with_headers(client, model="claude-lenient")
    assert DROPPED not in headers


# -- the echo test provider ------------------------------------------------------------------


@pytest.mark.parametrize(
    "field", [{"logprobs": True}, {"extra_body": {"top_k": 5}}, {"reasoning_effort": "low"}]
)
@pytest.mark.parametrize("stream", [False, True])
def test_echo_refuses_what_it_cannot_honour_by_name(
    client: openai.OpenAI, field: dict[str, Any], stream: bool
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="echo", messages=HELLO, stream=stream, **field)
    body = refused.value.body
    name = next(iter(field.get("extra_body", field)))
    assert (body["code"], body["param"]) == ("unsupported_parameter", name)  # type: ignore[index]
    assert "'echo'" in body["message"]  # type: ignore[index]


def test_echo_honours_max_completion_tokens(client: openai.OpenAI) -> None:
    long = [{"role": "user", "content": "word " * 40}]
    completion = client.chat.completions.create(model="echo", messages=long, max_completion_tokens=2)  # type: ignore[arg-type]
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content == "word wor"


# -- content parts refused by name -----------------------------------------------------------

FILE_PART = {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}}


@pytest.mark.parametrize("model", [CLAUDE, "llama3.2"])
def test_a_file_part_is_refused_by_name_elsewhere(client: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": [{"type": "text", "text": "Read it."}, FILE_PART]}],  # type: ignore[list-item, misc]
        )
    body = refused.value.body
    assert body["code"] == "unsupported_parameter"  # type: ignore[index]
    assert "file" in body["message"]  # type: ignore[index]


def test_a_file_part_reaches_openai_in_a_stream(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    content = [{"type": "text", "text": "Read it."}, FILE_PART]
    _chunks(
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": content}], stream=True  # type: ignore[list-item, misc]
        )
    )
    assert _chat_bodies(fake_upstream)[0]["messages"][0]["content"] == content
