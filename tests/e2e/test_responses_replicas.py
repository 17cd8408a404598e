"""Stored responses on Redis: ``previous_response_id`` continues a conversation on another
gateway process, and a response is visible to the key that created it only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anthropic
import openai
import pytest

from tests.e2e.conftest import ANTHROPIC_KEY, OPENAI_KEY, VENDOR_MODELS, providers_config
from tests.integration.gateway_controls import ClientKey, client_key, keys_env
from tests.support.fake_upstream import FakeUpstream, Turn
from tests.support.gateway import GatewayProcess


@dataclass(frozen=True)
class Replicas:
    first: GatewayProcess
    second: GatewayProcess
    alice: ClientKey
    bob: ClientKey


@pytest.fixture(scope="module")
def replicas(
    fake_upstream_server: FakeUpstream, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    config = Path(tmp_path_factory.mktemp("replicas")) / "providers.json"
    config.write_text(json.dumps(providers_config(fake_upstream_server.url)))
    alice, bob = client_key("alice"), client_key("bob")
    env = {
        **keys_env(alice, bob),
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(config),
        "LLM_GATEWAY_REDIS_URL": redis_url,
        "LLM_GATEWAY_FAKE_OPENAI_API_KEY": OPENAI_KEY,
        "LLM_GATEWAY_FAKE_ANTHROPIC_API_KEY": ANTHROPIC_KEY,
    }
    with GatewayProcess(env) as first, GatewayProcess(env) as second:
        yield Replicas(first, second, alice, bob)


def _client(gateway: GatewayProcess, key: ClientKey) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key.secret, max_retries=0)


@pytest.mark.parametrize("model", [VENDOR_MODELS["openai"], VENDOR_MODELS["anthropic"]])
def test_a_conversation_continues_on_another_replica(
    replicas: Replicas, fake_upstream: FakeUpstream, model: str
) -> None:
    fake_upstream.script(Turn(text="Noted: blue."), Turn(text="You said blue."))
    first = _client(replicas.first, replicas.alice).responses.create(
        model=model, input="My favourite colour is blue."
    )
    second = _client(replicas.second, replicas.alice).responses.create(
        model=model, input="What did I say?", previous_response_id=first.id
    )
    assert second.output_text == "You said blue."
    sent = json.dumps(fake_upstream.requests[-1].body)
    assert "My favourite colour is blue." in sent and "Noted: blue." in sent


def test_another_key_cannot_see_or_continue_a_response(replicas: Replicas, fake_upstream: FakeUpstream) -> None:
    created = _client(replicas.first, replicas.alice).responses.create(model=VENDOR_MODELS["openai"], input="secret")
    bob = _client(replicas.second, replicas.bob)
    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError) as caught:
        bob.responses.create(model=VENDOR_MODELS["openai"], input="x", previous_response_id=created.id)
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]
    assert _client(replicas.second, replicas.alice).responses.retrieve(created.id).id == created.id


def test_messages_accepts_the_anthropic_key_header(replicas: Replicas, fake_upstream: FakeUpstream) -> None:
    claude = anthropic.Anthropic(base_url=replicas.first.url, api_key=replicas.alice.secret, max_retries=0)
    message = claude.messages.create(model=VENDOR_MODELS["openai"], max_tokens=10,
                                     messages=[{"role": "user", "content": "hi"}])  # fmt: skip
    assert message.content[0].type == "text"
    stranger = anthropic.Anthropic(base_url=replicas.first.url, api_key="not-a-key", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        stranger.messages.create(model=VENDOR_MODELS["openai"], max_tokens=10,
                                 messages=[{"role": "user", "content": "hi"}])  # fmt: skip
    assert caught.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    with pytest.raises(anthropic.AuthenticationError) as counted:
        stranger.messages.count_tokens(model=VENDOR_MODELS["openai"],
                                       messages=[{"role": "user", "content": "hi"}])  # fmt: skip
    assert counted.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]


def test_every_responses_route_refuses_a_bad_key(replicas: Replicas, fake_upstream: FakeUpstream) -> None:
    stranger = openai.OpenAI(base_url=f"{replicas.first.url}/v1", api_key="not-a-key", max_retries=0)
    calls = [
        lambda: stranger.responses.create(model=VENDOR_MODELS["openai"], input="hi"),
        lambda: stranger.responses.retrieve("resp_x"),
        lambda: stranger.responses.delete("resp_x"),
        lambda: stranger.responses.input_items.list("resp_x"),
    ]
    for call in calls:
        with pytest.raises(openai.AuthenticationError):
            call()
    assert fake_upstream.requests == []
