"""Retries, retry budgets, deployments and circuit breakers, through the real gateway over
real sockets: the fake upstream scripts the faults and records when each attempt arrived.

Each test has its own model (and provider) so that one test's circuits and budgets do not
reach the next; durations are tens of milliseconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.fake_upstream.server import RETRY_AFTER_SECONDS
from tests.support.gateway import GatewayProcess, free_port

MESSAGES = [{"role": "user", "content": "hello"}]
OPEN_SECONDS = 0.5
BACKOFF_MAX = 0.1
NO_HEALTH = {"enabled": False}


def _config(upstream_url: str) -> dict:
    def provider(url: str, **sections: dict) -> dict:
        return {"type": "openai", "base_url": f"{url}/v1", "connect_timeout_seconds": 1.0,
                "timeout_seconds": 5.0, **sections}  # fmt: skip

    dead_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connect refused
    return {
        "retry": {
            "max_attempts": 3,
            "backoff_base_seconds": 0.05,
            "backoff_max_seconds": BACKOFF_MAX,
            "retry_after_cap_seconds": 0.5,
            "budget_min_retries": 100,
        },
        "health": {"enabled": True, "failure_threshold": 2, "open_seconds": OPEN_SECONDS},
        "providers": {
            "retrying": provider(upstream_url, health=NO_HEALTH),
            "stingy": provider(
                upstream_url,
                health=NO_HEALTH,
                retry={"budget_ratio": 0.0, "budget_min_retries": 1, "budget_window_seconds": 60},
            ),
            "breaking": provider(upstream_url, retry={"max_attempts": 1}),
            "alive": provider(upstream_url),
            "dead": provider(dead_url, health={"open_seconds": 60}),
        },
        "models": {
            "retry-model": {"provider": "retrying"},
            "budget-model": {"provider": "stingy"},
            "breaker-model": {"provider": "breaking"},
            "pair-model": {
                "deployments": [
                    {"provider": "dead", "model": "gpt-4o", "name": "pair-dead"},
                    {"provider": "alive", "model": "gpt-4o", "name": "pair-alive"},
                ],
                "routing_strategy": "weighted",
            },
        },
    }


@pytest.fixture(scope="module")
def gateway(
    fake_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    config = Path(tmp_path_factory.mktemp("retries")) / "providers.json"
    config.write_text(json.dumps(_config(fake_upstream_server.url)))
    env = {"LLM_GATEWAY_PROVIDERS_CONFIG": str(config)}
    with GatewayProcess(env) as process:
        yield process


@pytest.fixture
def http(gateway: GatewayProcess, fake_upstream: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


def _chat(http: httpx.Client, model: str, **extra: object) -> httpx.Response:
    return http.post("/v1/chat/completions", json={"model": model, "messages": MESSAGES, **extra})


def _arrivals(upstream: FakeUpstream) -> list[float]:
    return [request.received_at for request in upstream.requests]


def _metric(http: httpx.Client, name: str, labels: dict[str, str]) -> float | None:
    for family in text_string_to_metric_families(http.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def _deployments(http: httpx.Client) -> dict:
    return http.get("/ready").json()["checks"]["deployments"]["deployments"]


def test_429_then_200_waits_the_retry_after_ms(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(
        Turn(fault=Fault.RATE_LIMITED, headers=(("retry-after-ms", "200"),)), Turn(text="second")
    )
    response = _chat(http, "retry-model")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "second"
    first, second = _arrivals(fake_upstream)
    assert 0.2 <= second - first < 0.2 + 0.4


def test_an_http_date_retry_after_is_read(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    # 30 s ahead, past the 0.5 s cap: no retry at all (an unread date would mean a backoff
    # retry and a 200), and the client learns when to come back.
    when = formatdate(time.time() + 30, usegmt=True)
    fake_upstream.script(Turn(fault=Fault.RATE_LIMITED, headers=(("retry-after", when),)))
    response = _chat(http, "retry-model")
    assert response.status_code == 429
    assert len(fake_upstream.requests) == 1
    assert 27 <= int(response.headers["retry-after"]) <= 31


def test_503_then_200_backs_off_and_the_log_line_counts_attempts(
    http: httpx.Client, fake_upstream: FakeUpstream, gateway: GatewayProcess
) -> None:
    fake_upstream.script(Turn(fault=Fault.OVERLOADED))
    response = _chat(http, "retry-model")
    assert response.status_code == 200
    first, second = _arrivals(fake_upstream)
    assert 0.0 <= second - first < BACKOFF_MAX + 0.3
    request_id = response.headers["x-request-id"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in gateway.logs().splitlines() if request_id in line]
        if lines:
            break
        time.sleep(0.05)
    (line,) = [entry for entry in lines if entry.get("message") == "request"]
    assert (line["upstream_attempts"], line["upstream_retries"]) == (2, 1)
    labels = {"provider": "retrying", "deployment": "retry-model"}
    assert (_metric(http, "llm_gateway_upstream_retries_total", labels) or 0) >= 1
    assert (_metric(http, "llm_gateway_upstream_attempts_total", labels) or 0) >= 2


def test_a_retry_after_past_the_cap_returns_the_429_at_once(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(fault=Fault.RATE_LIMITED))  # retry-after: 7, the cap is 0.5
    started = time.monotonic()
    response = _chat(http, "retry-model")
    assert response.status_code == 429
    assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert len(fake_upstream.requests) == 1
    assert time.monotonic() - started < 2.0


def test_a_400_is_never_retried(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Turn(fault=Fault.BAD_REQUEST))
    assert _chat(http, "retry-model").status_code == 400
    assert len(fake_upstream.requests) == 1


def test_attempts_stop_at_max_attempts(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(*[Turn(fault=Fault.SERVER_ERROR)] * 4)
    assert _chat(http, "retry-model").status_code == 502
    assert len(fake_upstream.requests) == 3


def test_the_budget_stops_retrying(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(*[Turn(fault=Fault.SERVER_ERROR)] * 3)
    assert _chat(http, "budget-model").status_code == 502
    assert len(fake_upstream.requests) == 2, "the budget's one retry, then no more"
    fake_upstream.reset()
    fake_upstream.script(Turn(fault=Fault.SERVER_ERROR))
    assert _chat(http, "budget-model").status_code == 502
    assert len(fake_upstream.requests) == 1, "budget spent: no retry"


def test_a_stream_is_retried_before_its_first_byte(
    http: httpx.Client, fake_upstream: FakeUpstream, gateway: GatewayProcess
) -> None:
    fake_upstream.script(Turn(fault=Fault.SERVER_ERROR), Turn(text="streamed after a retry"))
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="k", max_retries=0)
    stream = client.chat.completions.create(model="retry-model", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "streamed after a retry"
    assert len(fake_upstream.requests) == 2


def test_a_stream_is_never_retried_after_its_first_byte(
    gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(
        Turn(text="a long answer that will be cut " * 5, fault=Fault.DROP_MID_STREAM)
    )
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(
            model="retry-model", messages=MESSAGES, stream=True
        ):  # type: ignore[arg-type]
            pass
    assert len(fake_upstream.requests) == 1


def test_the_breaker_opens_then_a_half_open_probe_closes_it(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(fault=Fault.SERVER_ERROR), Turn(fault=Fault.SERVER_ERROR))
    assert [_chat(http, "breaker-model").status_code for _ in range(2)] == [502, 502]
    refused = _chat(http, "breaker-model")
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "upstream_circuit_open"
    assert int(refused.headers["retry-after"]) >= 1
    assert len(fake_upstream.requests) == 2, "an open circuit calls nobody"
    assert _deployments(http)["breaker-model"]["circuit"] == "open"
    assert (
        _metric(http, "llm_gateway_deployment_circuit_state", {"deployment": "breaker-model"}) == 2
    )
    assert http.get("/ready").json()["checks"]["deployments"]["status"] == "ok"
    time.sleep(OPEN_SECONDS + 0.1)
    assert _deployments(http)["breaker-model"]["circuit"] == "half_open"
    assert _chat(http, "breaker-model").status_code == 200, "the probe"
    assert _deployments(http)["breaker-model"]["circuit"] == "closed"
    assert (
        _metric(http, "llm_gateway_deployment_circuit_state", {"deployment": "breaker-model"}) == 0
    )


def test_a_dead_deployment_is_skipped_once_its_circuit_opens(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    answers = [_chat(http, "pair-model") for _ in range(20)]
    assert [a.status_code for a in answers] == [200] * 20
    assert len(fake_upstream.requests) == 20, "every request answered by the live deployment"
    dead = {"provider": "dead", "deployment": "pair-dead"}
    assert _metric(http, "llm_gateway_upstream_attempts_total", dead) == 2, "two failures open it"
    states = _deployments(http)
    assert states["pair-dead"]["circuit"] == "open"
    assert states["pair-alive"]["circuit"] == "closed"


def test_embeddings_are_retried_too(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Turn(fault=Fault.SERVER_ERROR))
    response = http.post("/v1/embeddings", json={"model": "retry-model", "input": "hello"})
    assert response.status_code == 200, response.text
    assert [r.path for r in fake_upstream.requests] == ["/v1/embeddings"] * 2
