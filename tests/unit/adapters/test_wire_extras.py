"""What the gateway does not model travels through unchanged: Anthropic thinking in streams,
OpenAI stream extras, and their encoding back to the client."""

from __future__ import annotations

import json

import msgspec

from gateway_adapters.providers.anthropic.stream import StreamTranslator
from gateway_adapters.providers.anthropic.wire import build_body
from gateway_adapters.providers.openai.wire import decode_chunk, to_openai_payload
from gateway_core.domain.chat import ChatChunk, ChatRequest
from gateway_core.domain.messages import Message
from gateway_http.schemas.completions import ChunkEncoder

MESSAGE_START = {
    "type": "message_start",
    "message": {"id": "msg_1", "model": "claude-x", "content": [], "usage": {"input_tokens": 3}},
}


def _events(*events: dict) -> list[ChatChunk]:
    translator = StreamTranslator("anthropic")
    return [chunk for event in events for chunk in translator.feed(json.dumps(event))]


def test_anthropic_thinking_streams_as_reasoning_and_one_whole_block() -> None:
    chunks = _events(
        MESSAGE_START,
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "thinking_delta", "thinking": "Let me "}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "thinking_delta", "thinking": "think."}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM"}},
        {"type": "content_block_stop", "index": 0},
    )  # fmt: skip
    assert [c.reasoning_content for c in chunks if c.reasoning_content] == ["Let me ", "think."]
    (whole,) = [c.delta_extra["thinking_blocks"] for c in chunks if c.delta_extra]
    assert whole == [{"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCgIYAhIM"}]


def test_redacted_thinking_goes_back_unchanged_before_the_tool_use() -> None:
    redacted = {"type": "redacted_thinking", "data": "EmwKAhgB"}
    assistant = Message("assistant", "Checking.", extra={"thinking_blocks": [redacted]})
    body = build_body(
        ChatRequest(model="claude-x", messages=(Message.user("Hi"), assistant)),
        default_max_tokens=100,
    )
    assert body["messages"][1]["content"][0] == redacted


def test_openai_stream_extras_reach_the_client_chunk() -> None:
    upstream = {
        "id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
        "service_tier": "default", "system_fingerprint": "fp_1", "obfuscation": "xyz",
        "choices": [{"index": 0, "delta": {"refusal": "No", "reasoning_content": "hm"},
                     "logprobs": {"content": [], "refusal": []}, "finish_reason": None}],
    }  # fmt: skip
    (chunk,) = decode_chunk(json.dumps(upstream), "openai")
    event = ChunkEncoder("gw-1", 2, "gpt-4o").chunk(chunk)
    sent = msgspec.json.decode(event.removeprefix(b"data: "))
    assert sent["id"] == "gw-1"  # the gateway's own envelope
    assert (sent["service_tier"], sent["system_fingerprint"], sent["obfuscation"]) == (
        "default", "fp_1", "xyz"
    )  # fmt: skip
    (choice,) = sent["choices"]
    assert choice["delta"] == {"refusal": "No", "reasoning_content": "hm"}
    assert choice["logprobs"] == {"content": [], "refusal": []}


def test_the_client_limit_keeps_its_name_and_extras_pass_unchanged() -> None:
    request = ChatRequest(
        model="o3-mini",
        messages=(Message.user("Hi"),),
        max_tokens=50,
        max_completion_tokens=50,
        extra={"reasoning_effort": "high", "top_k": 4},
    )
    payload = to_openai_payload(request)
    assert payload["max_completion_tokens"] == 50  # type: ignore[typeddict-item]
    assert "max_tokens" not in payload
    assert (payload["reasoning_effort"], payload["top_k"]) == ("high", 4)  # type: ignore[typeddict-item]
