"""The agent frameworks that speak the Responses API by default, run against the gateway:
the OpenAI Agents SDK's default (Responses) model running a tool, plain and streamed, and
pydantic-ai's ``OpenAIResponsesModel`` with a tool; translated (``gpt-4o``, a Chat
Completions upstream) and native (a provider with the Responses API)."""

from __future__ import annotations

import asyncio
import json

import pytest
from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled
from openai import AsyncOpenAI
from pydantic_ai import Agent as PydanticAgent
from pydantic_ai.models.openai import OpenAIResponsesModel as PydanticResponsesModel
from pydantic_ai.providers.openai import OpenAIProvider

from tests.e2e.conftest import NATIVE_RESPONSES_MODEL, VENDOR_MODELS
from tests.support.fake_upstream import FakeUpstream, Turn
from tests.support.gateway import GatewayProcess

MODELS = [VENDOR_MODELS["openai"], NATIVE_RESPONSES_MODEL]
calls: list[str] = []


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    calls.append(city)
    return f"sunny in {city}"


@pytest.fixture(autouse=True)
def _fresh() -> None:
    set_tracing_disabled(True)
    calls.clear()


def _agent(gateway: GatewayProcess, model: str) -> Agent:
    client = AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="client-key", max_retries=0)
    return Agent(name="weather", instructions="Use the tool.", tools=[get_weather],
                 model=OpenAIResponsesModel(model=model, openai_client=client))  # fmt: skip


def _script(upstream: FakeUpstream) -> None:
    upstream.script(Turn(text=None, tool_calls=(("get_weather", {"city": "Paris"}),)),
                    Turn(text="It is sunny in Paris."))  # fmt: skip


@pytest.mark.parametrize("model", MODELS)
def test_agents_sdk_runs_a_tool(e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream, model: str) -> None:
    _script(fake_upstream)
    result = Runner.run_sync(_agent(e2e_gateway, model), "Weather in Paris?")
    assert calls == ["Paris"]
    assert result.final_output == "It is sunny in Paris."
    assert "sunny in Paris" in json.dumps(fake_upstream.requests[-1].body)


@pytest.mark.parametrize("model", MODELS)
def test_agents_sdk_streams_a_tool_run(e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream, model: str) -> None:
    _script(fake_upstream)

    async def run() -> tuple[list[str], object]:
        streamed = Runner.run_streamed(_agent(e2e_gateway, model), "Weather in Paris?")
        kinds = [event.type async for event in streamed.stream_events()]
        return kinds, streamed.final_output

    kinds, final = asyncio.run(run())
    assert calls == ["Paris"] and final == "It is sunny in Paris."
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds


@pytest.mark.parametrize("model", MODELS)
def test_pydantic_ai_responses_model_runs_a_tool(
    e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream, model: str
) -> None:
    _script(fake_upstream)
    provider = OpenAIProvider(base_url=f"{e2e_gateway.url}/v1", api_key="client-key")
    agent = PydanticAgent(PydanticResponsesModel(model, provider=provider), instructions="Use the tool.")
    seen: list[str] = []

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """The weather in a city."""
        seen.append(city)
        return f"sunny in {city}"

    result = agent.run_sync("Weather in Paris?")
    assert seen == ["Paris"]
    assert result.output == "It is sunny in Paris."
