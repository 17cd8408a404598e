"""With the response store's Redis down, an answer is still served (only not stored), and a
continuation that needs the store is a 503 the openai SDK can retry."""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest

from tests.support.gateway import GatewayProcess, free_port


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayProcess]:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with GatewayProcess({"LLM_GATEWAY_REDIS_URL": dead}) as running:
        yield running


def test_the_answer_is_served_and_continuing_is_503(gateway: GatewayProcess) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)
    response = client.responses.create(model="echo", input="still here")
    assert response.output_text == "still here"
    # The log is written by a thread, in batches: give the line a moment to land.
    deadline = time.monotonic() + 5
    while "was not stored" not in gateway.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "was not stored" in gateway.logs()
    with pytest.raises(openai.InternalServerError) as caught:
        client.responses.create(model="echo", input="again", previous_response_id=response.id)
    assert caught.value.status_code == 503
    assert caught.value.body["code"] == "store_unavailable"  # type: ignore[index]
