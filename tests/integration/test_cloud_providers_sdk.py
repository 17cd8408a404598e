"""The official openai SDK, through the real gateway, reaches Azure OpenAI, Amazon Bedrock, the
Gemini API and Vertex AI (Gemini and Claude) models, on the fake upstream's Azure, Bedrock and
Google dialects over real sockets, and gets what it gets from an OpenAI model: the same
answers, streams, tool calls, usage, errors and embeddings. No key, client secret or token
shows in the gateway's logs or answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.contract.providers.test_chat_provider_contract import texts_sent
from tests.support.fake_upstream import (
    FakeUpstream,
    Fault,
    Turn,
    azure_wire,
    bedrock_wire,
    gemini_wire,
)
from tests.support.gateway import GatewayProcess

OPENAI_KEY = "sk-cloud-reference-0123456789"
VERTEX_PATH = "/v1/projects/fake-project/locations/us-central1/publishers/google"
MODELS = {
    "openai": "gpt-4o",
    "azure": "azure/gpt-4o",
    "azure-entra": "azure-entra/gpt-4o",
    "gemini": "gemini/gemini-2.5-flash",
    "vertex": "vertex_ai/gemini-2.5-pro",
    "vertex-claude": "vertex_ai/claude-sonnet-4-5@20250929",
    "bedrock": "bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0",
}
CLOUDS = [name for name in MODELS if name != "openai"]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]


def _providers(upstream: str) -> dict[str, Any]:
    common = {"timeout_seconds": 10.0, "connect_timeout_seconds": 1.0, "requires_api_key": True}
    return {
        "providers": {
            "openai": {"type": "openai", "base_url": f"{upstream}/v1", **common},
            "azure": {
                "type": "azure",
                "base_url": upstream,
                "settings": {"api_version": "2024-10-21"},
                "deployments": {"gpt-4o": "prod-gpt4o", "text-embedding-3-small": "embed"},
                **common,
            },
            "azure-entra": {
                "type": "azure",
                "base_url": upstream,
                "credentials_env": ["AZURE_CLIENT_SECRET"],
                "settings": {"api_version": "v1", "authority_host": upstream},
                "settings_env": {
                    "tenant_id": "AZURE_TENANT_ID",
                    "client_id": "AZURE_CLIENT_ID",
                    "client_secret": "AZURE_CLIENT_SECRET",
                },
                **common,
            },
            "gemini": {"type": "gemini", "base_url": f"{upstream}/v1beta", **common},
            "bedrock": {
                "type": "bedrock",
                "base_url": upstream,
                "credentials_env": ["AWS_ACCESS_KEY_ID"],
                "settings_env": {"region": "AWS_REGION"},
                **common,
            },
            "vertex-unconfigured": {
                "type": "vertex_ai",
                "credentials_env": ["LLM_GATEWAY_TEST_UNSET_CREDENTIALS"],
                **common,
            },
            "vertex_ai": {
                "type": "vertex_ai",
                "base_url": f"{upstream}{VERTEX_PATH}",
                "credentials_env": ["GOOGLE_APPLICATION_CREDENTIALS"],
                "settings_env": {"credentials_file": "GOOGLE_APPLICATION_CREDENTIALS"},
                **common,
            },
        },
        "models": {
            "gpt-4o": {"provider": "openai"},
            "gemini-2.5-flash": {"provider": "gemini"},
            "vertex-pro": {"provider": "vertex_ai", "model": "gemini-2.5-pro"},
            "azure-gpt-4o": {"provider": "azure-entra", "model": "gpt-4o"},
            "vertex-elsewhere": {"provider": "vertex-unconfigured", "model": "gemini-2.5-pro"},
        },
        "prefixes": {
            f"{name}/": name for name in ("azure", "azure-entra", "gemini", "vertex_ai", "bedrock")
        },
    }


@pytest.fixture(scope="module")
def gateway(
    fake_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    directory = tmp_path_factory.mktemp("clouds")
    config = directory / "providers.json"
    config.write_text(json.dumps(_providers(fake_upstream_server.url)))
    key_file = directory / "service-account.json"
    key_file.write_text(
        json.dumps(gemini_wire.service_account_info(f"{fake_upstream_server.url}/token"))
    )
    env = {
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(config),
        "LLM_GATEWAY_LOG_LEVEL": "debug",
        "LLM_GATEWAY_OPENAI_API_KEY": OPENAI_KEY,
        "LLM_GATEWAY_AZURE_API_KEY": azure_wire.AZURE_KEY,
        "LLM_GATEWAY_GEMINI_API_KEY": gemini_wire.GEMINI_KEY,
        "AZURE_TENANT_ID": azure_wire.TENANT,
        "AZURE_CLIENT_ID": azure_wire.CLIENT_ID,
        "AZURE_CLIENT_SECRET": azure_wire.CLIENT_SECRET,
        "GOOGLE_APPLICATION_CREDENTIALS": str(key_file),
        # botocore's chain, from the environment only: no files, no instance metadata.
        "AWS_ACCESS_KEY_ID": bedrock_wire.ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": bedrock_wire.SECRET_KEY,
        "AWS_SESSION_TOKEN": bedrock_wire.SESSION_TOKEN,
        "AWS_REGION": "eu-central-1",
        "AWS_CONFIG_FILE": str(directory / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(directory / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with GatewayProcess(env) as process:
        yield process


@pytest.fixture
def client(gateway: GatewayProcess, fake_upstream: FakeUpstream) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)


def _plain(client: openai.OpenAI, model: str) -> tuple[Any, ...]:
    completion = client.chat.completions.create(model=model, messages=QUESTION)
    choice = completion.choices[0]
    usage = completion.usage
    assert usage is not None
    return (choice.message.role, choice.message.content, choice.finish_reason,
            usage.prompt_tokens, usage.completion_tokens)  # fmt: skip


def _streamed(client: openai.OpenAI, model: str) -> tuple[Any, ...]:
    with client.chat.completions.stream(
        model=model, messages=QUESTION, stream_options={"include_usage": True}
    ) as stream:
        final = stream.get_final_completion()
    choice, usage = final.choices[0], final.usage
    assert usage is not None
    return (choice.message.role, choice.message.content, choice.finish_reason,
            usage.prompt_tokens, usage.completion_tokens)  # fmt: skip


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("ask", [_plain, _streamed], ids=["json", "stream"])
def test_an_answer_is_the_same_as_from_openai(
    client: openai.OpenAI, fake_upstream: FakeUpstream, cloud: str, ask: Any
) -> None:
    turn = Turn(text="Rayleigh scattering.", prompt_tokens=26, completion_tokens=4)
    fake_upstream.script(turn, turn)

    reference = ask(client, MODELS["openai"])
    answer = ask(client, MODELS[cloud])

    assert answer == reference == ("assistant", "Rayleigh scattering.", "stop", 26, 4)


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_tool_round_trip(
    client: openai.OpenAI, fake_upstream: FakeUpstream, cloud: str, stream: bool
) -> None:
    fake_upstream.script(
        Turn(text=None, tool_calls=(("get_weather", {"city": "Paris"}),)), Turn(text="Sunny.")
    )
    model = MODELS[cloud]
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]

    if stream:
        with client.chat.completions.stream(model=model, messages=messages, tools=[WEATHER]) as s:
            first = s.get_final_completion()
    else:
        first = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER])
    (call,) = first.choices[0].message.tool_calls or []
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'},
    ]
    second = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER])

    assert first.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather",
        {"city": "Paris"},
    )
    assert second.choices[0].message.content == "Sunny."
    assert '{"temp_c": 21}' in texts_sent(fake_upstream.requests[1].body)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_rate_limit_is_the_sdk_s_rate_limit_error(
    client: openai.OpenAI, fake_upstream: FakeUpstream, cloud: str
) -> None:
    fake_upstream.script(Turn(fault=Fault.RATE_LIMITED), Turn(fault=Fault.RATE_LIMITED))

    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model=MODELS[cloud], messages=QUESTION)

    # Bedrock's throttling says nothing of when to come back; the others say 7 s.
    expected = None if cloud == "bedrock" else "7"
    assert raised.value.response.headers.get("retry-after") == expected


@pytest.mark.parametrize(
    "model",
    [
        "azure/text-embedding-3-small",
        "gemini/gemini-embedding-001",
        "bedrock/amazon.titan-embed-text-v2:0",
        "vertex_ai/text-embedding-005",
    ],
)
def test_embeddings(client: openai.OpenAI, model: str) -> None:
    answer = client.embeddings.create(model=model, input=["a", "bbb"])

    assert [len(item.embedding) for item in answer.data] == [4, 4]


def test_no_credential_shows_in_logs_or_answers(
    client: openai.OpenAI, gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(*(Turn(fault=Fault.UNAUTHORIZED) for _ in CLOUDS))
    bodies = []
    for cloud in CLOUDS:
        with pytest.raises(openai.APIStatusError) as raised:
            client.chat.completions.create(model=MODELS[cloud], messages=QUESTION)
        bodies.append(raised.value.response.text + str(raised.value.response.headers))
    client.chat.completions.create(model=MODELS["azure-entra"], messages=QUESTION)
    client.chat.completions.create(model=MODELS["vertex"], messages=QUESTION)
    client.chat.completions.create(model=MODELS["bedrock"], messages=QUESTION)

    shown = gateway.logs() + "".join(bodies)
    secrets = [azure_wire.AZURE_KEY, azure_wire.CLIENT_SECRET, gemini_wire.GEMINI_KEY, OPENAI_KEY]
    secrets += [bedrock_wire.SECRET_KEY, bedrock_wire.SESSION_TOKEN]
    secrets += azure_wire.TOKENS.issued + gemini_wire.TOKENS.issued
    private_key = gemini_wire.service_account_info("unused")["private_key"]
    assert azure_wire.TOKENS.issued and gemini_wire.TOKENS.issued
    assert not [secret for secret in secrets if secret in shown]
    assert private_key.splitlines()[1] not in shown


def test_models_lists_what_has_credentials(client: openai.OpenAI) -> None:
    listed = {model.id for model in client.models.list()}

    assert {"gpt-4o", "gemini-2.5-flash", "vertex-pro", "azure-gpt-4o"} <= listed
    assert "vertex-elsewhere" not in listed
