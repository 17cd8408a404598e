"""The chat use case with the scripted provider: routing, fallbacks, streaming."""

from __future__ import annotations

import pytest

from gateway_core.domain.chat import ChatChunk, ChatRequest
from gateway_core.domain.messages import Message
from gateway_core.domain.routing import ModelRoute, RoutingTable, Target
from gateway_core.errors import (
    ModelNotFoundError,
    ProviderNotConfiguredError,
    UpstreamBadRequestError,
    UpstreamOverloadedError,
)
from gateway_core.testing import Reply, ScriptedProvider
from gateway_core.use_cases.complete_chat import ChatRoutes, CompleteChat

ROUTES = RoutingTable(
    models={
        "main": ModelRoute(Target("primary", "primary-model"), fallbacks=("backup",)),
        "backup": ModelRoute(Target("secondary", "secondary-model")),
        "keyless": ModelRoute(Target("missing", "m")),
    }
)


def _request(model: str = "main", stream: bool = False) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=(Message.system("Be brief."), Message.user("Hello there")),
        stream=stream,
    )


def _use_case(primary: ScriptedProvider, secondary: ScriptedProvider) -> CompleteChat:
    return CompleteChat(
        ROUTES,
        {"primary": primary, "secondary": secondary},
        unconfigured={"missing": "LLM_GATEWAY_MISSING_API_KEY"},
    )


async def test_completes_through_the_routed_provider_with_its_model_id() -> None:
    primary = ScriptedProvider("primary", [Reply(text="Hi!")])
    response = await _use_case(primary, ScriptedProvider("secondary")).complete(_request())
    assert response.choices[0].message.text == "Hi!"
    assert response.choices[0].finish_reason == "stop"
    assert primary.requests[0].model == "primary-model"
    assert primary.requests[0].messages == _request().messages


async def test_retryable_failure_falls_back_and_says_which_model_answered() -> None:
    primary = ScriptedProvider("primary", [Reply(error=UpstreamOverloadedError("busy"))])
    secondary = ScriptedProvider("secondary", [Reply(text="from backup")])
    response = await _use_case(primary, secondary).complete(_request())
    assert response.choices[0].message.text == "from backup"
    assert response.model == "secondary-model"
    assert response.provider == "secondary"


async def test_non_retryable_failure_does_not_fall_back() -> None:
    primary = ScriptedProvider("primary", [Reply(error=UpstreamBadRequestError("bad"))])
    secondary = ScriptedProvider("secondary")
    with pytest.raises(UpstreamBadRequestError):
        await _use_case(primary, secondary).complete(_request())
    assert secondary.requests == []


async def test_last_failure_propagates_when_every_target_fails() -> None:
    primary = ScriptedProvider("primary", [Reply(error=UpstreamOverloadedError("busy"))])
    secondary = ScriptedProvider("secondary", [Reply(error=UpstreamOverloadedError("busy 2"))])
    with pytest.raises(UpstreamOverloadedError, match="busy 2"):
        await _use_case(primary, secondary).complete(_request())


async def test_unknown_model_and_unconfigured_provider_are_clear_errors() -> None:
    use_case = _use_case(ScriptedProvider("primary"), ScriptedProvider("secondary"))
    with pytest.raises(ModelNotFoundError):
        await use_case.complete(_request("nope"))
    with pytest.raises(ProviderNotConfiguredError, match="LLM_GATEWAY_MISSING_API_KEY"):
        await use_case.complete(_request("keyless"))


async def _collect(use_case: CompleteChat, request: ChatRequest) -> list[ChatChunk]:
    return [chunk async for chunk in use_case.stream(request)]


async def test_stream_relays_chunks_and_names_the_model_first() -> None:
    primary = ScriptedProvider("primary", [Reply(text="one two three")])
    chunks = await _collect(_use_case(primary, ScriptedProvider("secondary")), _request())
    assert chunks[0].role == "assistant" and chunks[0].model == "primary-model"
    assert "".join(c.content or "" for c in chunks) == "one two three"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert chunks[-1].usage is not None


async def test_stream_falls_back_before_the_first_chunk() -> None:
    primary = ScriptedProvider("primary", [Reply(error=UpstreamOverloadedError("busy"))])
    secondary = ScriptedProvider("secondary", [Reply(text="backup answer")])
    chunks = await _collect(_use_case(primary, secondary), _request(stream=True))
    assert chunks[0].model == "secondary-model"
    assert "".join(c.content or "" for c in chunks) == "backup answer"


async def test_stream_tool_calls_carry_index_id_and_arguments() -> None:
    reply = Reply(tool_calls=(("search", {"q": "x"}), ("search", {"q": "y"})))
    primary = ScriptedProvider("primary", [reply])
    chunks = await _collect(_use_case(primary, ScriptedProvider("secondary")), _request())
    deltas = [d for c in chunks for d in c.tool_calls]
    assert {d.index for d in deltas} == {0, 1}
    assert [d.id for d in deltas if d.id] == ["call_0", "call_1"]
    assert "".join(d.arguments for d in deltas if d.index == 1) == '{"q": "y"}'
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["tool_calls"]


async def test_every_failed_upstream_call_is_reported_even_when_a_fallback_rescues_it() -> None:
    seen: list[str] = []
    primary = ScriptedProvider("primary", [Reply(error=UpstreamOverloadedError("busy", provider="primary"))])
    secondary = ScriptedProvider("secondary", [Reply(text="rescued")])
    use_case = CompleteChat(
        ROUTES, {"primary": primary, "secondary": secondary},
        on_provider_error=lambda error: seen.append(error.provider),
    )  # fmt: skip
    response = await use_case.complete(_request())
    assert response.choices[0].message.text == "rescued"
    assert seen == ["primary"]


async def test_a_reroute_serves_new_requests_while_a_running_stream_keeps_its_provider() -> None:
    old = ScriptedProvider("primary", [Reply(text="old answer")])
    chat = _use_case(old, ScriptedProvider("secondary"))
    running = chat.stream(_request(stream=True))
    first = await anext(running)  # the stream has started on the old routes
    new = ScriptedProvider("primary", [Reply(text="new answer")])
    routes = RoutingTable(models={"main": ModelRoute(Target("fresh", "fresh-model"))})
    chat.reroute(ChatRoutes(routes, {"fresh": new}, {}))
    rest = [chunk async for chunk in running]
    assert "".join(c.content or "" for c in (first, *rest)) == "old answer"
    answer = await chat.complete(_request())
    assert answer.choices[0].message.content == "new answer"
    assert answer.model == "fresh-model"
