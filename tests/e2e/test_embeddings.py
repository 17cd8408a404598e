"""POST /v1/embeddings: what the consumer sends and reads, through the official openai SDK,
routed to the fake OpenAI upstream; and the echo test provider's vectors."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.fake_upstream.openai_wire import EMBEDDING_DIMENSIONS
from tests.support.gateway import GatewayProcess


def test_the_consumers_request_reads_data_0_embedding(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(prompt_tokens=5))
    result = client.embeddings.create(input="rate limiting", model="text-embedding-3-small")
    assert len(result.data[0].embedding) == EMBEDDING_DIMENSIONS
    assert result.data[0].embedding[0] == float(len("rate limiting"))
    assert result.usage.prompt_tokens == 5
    sent = fake_upstream.requests[-1]
    assert sent.path == "/v1/embeddings"
    # The SDK asks for base64 by default: the upstream is asked the same, as the client did.
    assert sent.body == {"model": "text-embedding-3-small", "input": ["rate limiting"],
                         "encoding_format": "base64"}  # fmt: skip
    assert sent.headers["Authorization"].startswith("Bearer ")


def test_several_inputs_keep_their_order(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    result = client.embeddings.create(input=["a", "bbb", "cc"], model="text-embedding-3-small")
    assert [item.index for item in result.data] == [0, 1, 2]
    assert [item.embedding[0] for item in result.data] == [1.0, 3.0, 2.0]


def test_cost_is_reported(e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Turn(prompt_tokens=1_000_000))
    response = httpx.post(f"{e2e_gateway.url}/v1/embeddings",
                          json={"model": "text-embedding-3-small", "input": "x"})  # fmt: skip
    assert response.status_code == 200
    assert response.headers["x-gateway-cost-usd"] == "0.02"  # $0.02 per million in pricing.json


def test_upstream_faults_and_bad_input(
    client: openai.OpenAI, e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(fault=Fault.RATE_LIMITED))
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(input="x", model="text-embedding-3-small")
    bad = httpx.post(f"{e2e_gateway.url}/v1/embeddings", json={"model": "text-embedding-3-small"})
    assert bad.status_code == 400 and bad.json()["error"]["message"]


def test_a_chat_only_provider_is_a_clear_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(input="x", model="claude-sonnet-4-5-20250929")
    assert "without embeddings" in caught.value.message


def test_a_plain_json_client_gets_float_lists(
    e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    body = {"input": "rate limiting", "model": "text-embedding-3-small"}  # as consumers send it
    response = httpx.post(f"{e2e_gateway.url}/v1/embeddings", json=body)
    assert response.status_code == 200
    embedding = response.json()["data"][0]["embedding"]
    assert embedding == [float(len("rate limiting") + i) for i in range(EMBEDDING_DIMENSIONS)]
