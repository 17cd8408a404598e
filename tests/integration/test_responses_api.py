"""POST /v1/responses: what the consumer that uses the Responses API sends and reads, through
the official openai SDK, on the same chat path (routing, errors) as chat completions."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.support.gateway import GatewayProcess


@pytest.fixture
def client(echo_gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{echo_gateway.url}/v1", api_key="unused", max_retries=0)


def test_the_consumers_request_reads_output_text(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="echo", input="You are terse.\n\nSay hello", temperature=0.2, max_output_tokens=200
    )
    assert response.object == "response" and response.status == "completed"
    assert response.output[0].content[0].text == "You are terse.\n\nSay hello"  # type: ignore[union-attr]
    assert response.output_text == "You are terse.\n\nSay hello"
    assert response.usage is not None and response.usage.output_tokens > 0


def test_message_input_and_instructions(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="echo",
        instructions="Be brief.",
        input=[{"role": "user", "content": "first"}, {"role": "user", "content": "second"}],
    )
    assert response.output_text == "second"


def test_a_cut_answer_is_incomplete(client: openai.OpenAI) -> None:
    response = client.responses.create(model="echo", input="a b c d e f g h i j", max_output_tokens=1)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


def test_errors_are_openai_shaped(client: openai.OpenAI, echo_gateway: GatewayProcess) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="no-such-model", input="hi")
    assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]
    bad = httpx.post(f"{echo_gateway.url}/v1/responses", json={"model": "echo", "input": ""})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "input"
