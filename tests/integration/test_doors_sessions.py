"""The gateway's ``session_id`` on the two front doors, through the official SDKs: a session's
history carries the conversation on ``/v1/messages`` and ``/v1/responses`` as on chat, and a
key never reaches another key's session (404, in each door's own error shape).

One gateway with authentication on (keys A and B), the echo model and real Redis.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest

from tests.integration.session_calls import create_session, gateway_env, read_session, turns
from tests.support.gateway import GatewayProcess

SECRETS = {"a": f"sk-gw-{secrets.token_urlsafe(32)}", "b": f"sk-gw-{secrets.token_urlsafe(32)}"}


@pytest.fixture(scope="module")
def gateway(redis_url: str) -> Iterator[GatewayProcess]:
    keys = [{"id": key_id, "name": key_id.upper(), "sha256": hashlib.sha256(secret.encode()).hexdigest()}
            for key_id, secret in SECRETS.items()]  # fmt: skip
    env = gateway_env(redis_url, LLM_GATEWAY_AUTH_ENABLED="true", LLM_GATEWAY_API_KEYS=json.dumps(keys))
    with GatewayProcess(env) as process:
        yield process


@pytest.fixture
def http(gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, headers={"authorization": f"Bearer {SECRETS['a']}"},
                      timeout=30) as client:  # fmt: skip
        yield client


def _claude(gateway: GatewayProcess, key_id: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=SECRETS[key_id], max_retries=0)


def _openai(gateway: GatewayProcess, key_id: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=SECRETS[key_id], max_retries=0)


def test_a_messages_session_keeps_the_conversation(gateway: GatewayProcess, http: httpx.Client) -> None:
    session_id = create_session(http)["id"]
    claude = _claude(gateway, "a")
    for text in ("first", "second"):
        message = claude.messages.create(model="echo", max_tokens=50, extra_body={"session_id": session_id},
                                         messages=[{"role": "user", "content": text}])  # fmt: skip
        assert message.content[0].text == text  # type: ignore[union-attr]
    with claude.messages.stream(model="echo", max_tokens=50, extra_body={"session_id": session_id},
                                messages=[{"role": "user", "content": "third"}]) as stream:  # fmt: skip
        assert stream.get_final_text() == "third"
    assert turns(read_session(http, session_id)["messages"]) == [
        ("user", "first"), ("assistant", "first"), ("user", "second"), ("assistant", "second"),
        ("user", "third"), ("assistant", "third"),
    ]  # fmt: skip


def test_a_responses_session_keeps_the_conversation(gateway: GatewayProcess, http: httpx.Client) -> None:
    session_id = create_session(http)["id"]
    client = _openai(gateway, "a")
    first = client.responses.create(model="echo", input="one", extra_body={"session_id": session_id})
    assert first.output_text == "one"
    with client.responses.stream(model="echo", input="two", extra_body={"session_id": session_id}) as stream:
        assert stream.get_final_response().output_text == "two"
    assert turns(read_session(http, session_id)["messages"]) == [
        ("user", "one"), ("assistant", "one"), ("user", "two"), ("assistant", "two"),
    ]  # fmt: skip
    with pytest.raises(openai.BadRequestError) as both:
        client.responses.create(model="echo", input="three", previous_response_id=first.id,
                                extra_body={"session_id": session_id})  # fmt: skip
    assert both.value.body["param"] == "session_id"  # type: ignore[index]


def test_another_keys_session_is_not_found_on_both_doors(gateway: GatewayProcess, http: httpx.Client) -> None:
    session_id = create_session(http)["id"]
    with pytest.raises(anthropic.NotFoundError) as on_messages:
        _claude(gateway, "b").messages.create(model="echo", max_tokens=50, extra_body={"session_id": session_id},
                                              messages=[{"role": "user", "content": "theirs"}])  # fmt: skip
    assert on_messages.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError) as on_responses:
        _openai(gateway, "b").responses.create(model="echo", input="theirs", stream=True,
                                               extra_body={"session_id": session_id})  # fmt: skip
    assert on_responses.value.code == "session_not_found"
    assert read_session(http, session_id)["messages"] == []
