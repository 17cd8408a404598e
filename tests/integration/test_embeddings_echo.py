"""POST /v1/embeddings on the shipped configuration: the echo test provider's vectors."""

from __future__ import annotations

import openai

from tests.support.gateway import GatewayProcess


def test_echo_embeddings_are_deterministic_unit_vectors(echo_gateway: GatewayProcess) -> None:
    client = openai.OpenAI(base_url=f"{echo_gateway.url}/v1", api_key="unused", max_retries=0)
    first = client.embeddings.create(input="same text", model="echo")
    again = client.embeddings.create(input=["same text", "other"], model="echo")
    assert first.data[0].embedding == again.data[0].embedding
    assert first.data[0].embedding != again.data[1].embedding
    assert abs(sum(x * x for x in first.data[0].embedding) - 1.0) < 1e-6  # float32 on the wire


def test_a_consumer_model_without_its_key_names_the_setting(echo_gateway: GatewayProcess) -> None:
    client = openai.OpenAI(base_url=f"{echo_gateway.url}/v1", api_key="unused", max_retries=0)
    try:
        client.embeddings.create(input="x", model="text-embedding-3-small")
    except openai.APIStatusError as error:
        assert error.status_code == 503
        assert "OPENAI_API_KEY" in error.message
    else:
        raise AssertionError("an unkeyed provider must not answer")
