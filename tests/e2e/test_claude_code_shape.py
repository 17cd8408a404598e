"""A request of the shape Claude Code sends (``recorded/claude_code_turn.json``: system blocks
with ``cache_control``, many tools, extended thinking, a turn with a signed thinking block, a
``tool_use`` and its ``tool_result``), streamed end to end through ``/v1/messages``: natively to
Anthropic, and translated to an OpenAI-format model so Claude Code can run on it.

The file is written by hand in the shape of Claude Code's requests (field for field as its
requests look, contents shortened), not captured from a real session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.e2e.conftest import VENDOR_MODELS
from tests.support.fake_upstream import FakeUpstream, Turn
from tests.support.gateway import GatewayProcess

RECORDED = Path(__file__).parent / "recorded" / "claude_code_turn.json"


def _recorded(model: str) -> dict[str, Any]:
    body = json.loads(RECORDED.read_text())
    body["model"] = model
    del body["stream"]  # the SDK's stream() sets it
    # The SDK's 2.x signature no longer lists temperature; Claude Code still sends it.
    body["extra_body"] = {"temperature": body.pop("temperature")}
    if model == VENDOR_MODELS["openai"]:
        # Claude Code's 32000 is above gpt-4o's 16384 output tokens: OpenAI refuses it, and so
        # does the gateway's model catalogue (see the test below); a client configured for
        # gpt-4o (CLAUDE_CODE_MAX_OUTPUT_TOKENS) sends a limit the model has.
        body["max_tokens"] = 16384
    return body


def test_claude_codes_default_limit_on_a_smaller_model_is_a_400_naming_max_tokens(
    e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    claude = anthropic.Anthropic(base_url=e2e_gateway.url, api_key="client-key", max_retries=0)
    body = {**_recorded(VENDOR_MODELS["openai"]), "max_tokens": 32000}
    seen = len(fake_upstream.requests)
    with pytest.raises(anthropic.BadRequestError) as caught, claude.messages.stream(**body):
        pass
    assert "'max_tokens' is 32000" in str(caught.value)
    assert len(fake_upstream.requests) == seen




@pytest.mark.parametrize("model", [VENDOR_MODELS["anthropic"], VENDOR_MODELS["openai"]])
def test_a_claude_code_turn_streams_end_to_end(
    e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream, model: str
) -> None:
    fake_upstream.script(Turn(text="The version attribute cannot be imported.",
                              tool_calls=(("Grep", {"pattern": "__version__"}),)))  # fmt: skip
    claude = anthropic.Anthropic(base_url=e2e_gateway.url, api_key="client-key", max_retries=0)
    with claude.messages.stream(**_recorded(model)) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert [block.type for block in final.content] == ["text", "tool_use"]
    assert final.content[1].input == {"pattern": "__version__"}  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    sent = fake_upstream.requests[-1]
    assert len(sent.body["tools"]) == 9
    if model == VENDOR_MODELS["anthropic"]:
        recorded = json.loads(RECORDED.read_text())
        assert sent.path == "/v1/messages"
        assert sent.body["system"] == recorded["system"]
        assert sent.body["messages"] == recorded["messages"]  # thinking signature, cache_control
        assert sent.body["thinking"] == recorded["thinking"]
    else:
        assert sent.path == "/v1/chat/completions"
        roles = [m["role"] for m in sent.body["messages"]]
        assert roles == ["system", "user", "assistant", "tool"]
        assert sent.body["messages"][2]["tool_calls"][0]["id"] == "toolu_01A9xQz3recordedshape001"
        assert sent.body["messages"][3]["tool_call_id"] == "toolu_01A9xQz3recordedshape001"
        assert sent.body["user"] == "user_7f3a_account_0c1d_session_5b2e"
        assert sent.body["reasoning_effort"] == "high"  # the 31999-token thinking budget
        assert "thinking" not in sent.body and "cache_control" not in json.dumps(sent.body)


def test_the_translated_turn_says_what_it_dropped(e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    claude = anthropic.Anthropic(base_url=e2e_gateway.url, api_key="client-key", max_retries=0)
    body = _recorded(VENDOR_MODELS["openai"])
    with claude.messages.with_streaming_response.create(**body, stream=True) as raw:
        dropped = raw.headers["x-gateway-dropped-params"]
        assert b"message_stop" in raw.read()
    # thinking itself is mapped (reasoning_effort); a signature and a cache hint have no place.
    assert dropped == "cache_control, thinking blocks"


def test_a_claude_code_turn_in_a_session_reaches_anthropic_whole(
    e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    """With the gateway's session_id the turn is translated even for Anthropic: what Claude
    Code relies on still reaches it (system blocks with cache_control, thinking, the signed
    thinking block, cached tools)."""
    session_id = httpx.post(f"{e2e_gateway.url}/v1/sessions", json={}).json()["id"]
    fake_upstream.script(Turn(text="The version attribute cannot be imported."))
    claude = anthropic.Anthropic(base_url=e2e_gateway.url, api_key="client-key", max_retries=0)
    body = _recorded(VENDOR_MODELS["anthropic"])
    body["extra_body"]["session_id"] = session_id
    with claude.messages.with_streaming_response.create(**body, stream=True) as raw:
        assert "x-gateway-dropped-params" not in raw.headers
        assert b"message_stop" in raw.read()
    recorded = json.loads(RECORDED.read_text())
    sent = fake_upstream.requests[-1].body
    assert sent["system"] == recorded["system"] and sent["thinking"] == recorded["thinking"]
    assert sent["messages"][1] == recorded["messages"][1]  # thinking signature, tool_use
    assert sent["messages"][2]["content"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert [t.get("cache_control") for t in sent["tools"]] == [t.get("cache_control") for t in recorded["tools"]]
