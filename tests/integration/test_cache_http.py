"""The response cache over real HTTP: hit and miss, tenants, errors, opt-outs, sampling, and
streamed replay.

Two gateway processes share Redis database 11 (so a hit on one proves the cache lives in
Redis, not in a process), with authentication on and the shipped cache policy: temperature 0
only, 300 s. Every test asks its own question, so that no test sees another's entries.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import openai
import pytest

from tests.integration.gateway_controls import (
    CHAT,
    PRICED_MODEL,
    USAGE,
    ClientKey,
    client_key,
    expected_cost,
    keys_env,
    providers_file,
    redis_db,
    user_message,
)
from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.gateway import GatewayProcess

REDIS_DB = 11


@dataclass(frozen=True)
class CacheSetup:
    first: GatewayProcess
    second: GatewayProcess
    tenant_a: ClientKey
    tenant_b: ClientKey


@pytest.fixture(scope="session")
def cache_setup(
    fake_upstream_server: FakeUpstream, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CacheSetup]:
    tenant_a, tenant_b = client_key("tenant-a"), client_key("tenant-b")
    env = {
        **keys_env(tenant_a, tenant_b),
        "LLM_GATEWAY_REDIS_URL": redis_db(redis_url, REDIS_DB),
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(
            providers_file(tmp_path_factory.mktemp("cache"), fake_upstream_server.url)
        ),
        "LLM_GATEWAY_FAKE_OPENAI_API_KEY": "sk-fake-cache",
    }
    gateways = [GatewayProcess(env), GatewayProcess(env)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(GatewayProcess.start, gateways))
    try:
        yield CacheSetup(gateways[0], gateways[1], tenant_a, tenant_b)
    finally:
        for gateway in gateways:
            gateway.stop()


@pytest.fixture
def http(cache_setup: CacheSetup, fake_upstream: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cache_setup.first.url, timeout=10) as client:
        yield client


def _question() -> str:
    return f"question {secrets.token_hex(6)}"


def _body(text: str, temperature: float | None = 0, **extra: object) -> dict:
    body = {"model": PRICED_MODEL, "messages": user_message(text), **extra}
    if temperature is not None:
        body["temperature"] = temperature
    return body


def _answer(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def test_a_repeated_question_is_a_miss_then_a_free_hit_from_redis(
    cache_setup: CacheSetup, fake_upstream: FakeUpstream
) -> None:
    key, text = cache_setup.tenant_a, _question()
    fake_upstream.script(Turn(text="cached answer", prompt_tokens=11, completion_tokens=7))
    miss = httpx.post(cache_setup.first.url + CHAT, headers=key.bearer, json=_body(text))
    hit = httpx.post(cache_setup.second.url + CHAT, headers=key.bearer, json=_body(text))

    assert _answer(miss) == _answer(hit) == "cached answer"
    assert len(fake_upstream.requests) == 1, "the hit never reached the upstream"
    assert miss.headers["x-gateway-cache"] == "MISS"
    assert miss.headers["x-gateway-cost-usd"] == expected_cost(PRICED_MODEL, 11, 7)
    assert hit.headers["x-gateway-cache"] == "HIT"
    assert hit.headers["x-gateway-cost-usd"] == "0"
    assert hit.json()["x_gateway"]["cost_usd"] == 0 and hit.json()["x_gateway"]["cache"] == "HIT"
    assert hit.json()["id"] != miss.json()["id"]
    assert hit.json()["usage"] == miss.json()["usage"], "the client still sees what it got"


def test_one_tenant_never_gets_another_tenants_answer(
    cache_setup: CacheSetup, http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    a, b, text = cache_setup.tenant_a, cache_setup.tenant_b, _question()
    fake_upstream.script(Turn(text="for tenant a"), Turn(text="for tenant b"))
    first_a = http.post(CHAT, headers=a.bearer, json=_body(text))
    first_b = http.post(CHAT, headers=b.bearer, json=_body(text))
    assert (_answer(first_a), _answer(first_b)) == ("for tenant a", "for tenant b")
    assert first_b.headers["x-gateway-cache"] == "MISS"
    assert len(fake_upstream.requests) == 2

    again_a = http.post(CHAT, headers=a.bearer, json=_body(text))
    again_b = http.post(CHAT, headers=b.bearer, json=_body(text))
    assert (_answer(again_a), _answer(again_b)) == ("for tenant a", "for tenant b")
    assert again_a.headers["x-gateway-cache"] == again_b.headers["x-gateway-cache"] == "HIT"
    assert len(fake_upstream.requests) == 2


@pytest.mark.parametrize("fault", [Fault.SERVER_ERROR, Fault.BAD_REQUEST, Fault.RATE_LIMITED])
def test_an_error_is_never_cached(
    cache_setup: CacheSetup, http: httpx.Client, fake_upstream: FakeUpstream, fault: Fault
) -> None:
    headers, text = cache_setup.tenant_a.bearer, _question()
    fake_upstream.script(Turn(fault=fault), Turn(text="recovered"))
    failed = http.post(CHAT, headers=headers, json=_body(text))
    assert failed.status_code >= 400
    retried = http.post(CHAT, headers=headers, json=_body(text))
    assert _answer(retried) == "recovered"
    assert retried.headers["x-gateway-cache"] == "MISS"
    assert len(fake_upstream.requests) == 2, "the retry reached the upstream again"
    assert http.post(CHAT, headers=headers, json=_body(text)).headers["x-gateway-cache"] == "HIT"


@pytest.mark.parametrize(
    "opt_out",
    [{"headers": {"Cache-Control": "no-cache"}},
     {"headers": {"cache-control": "max-age=0, no-cache"}},
     {"body": {"gateway": {"cache": "no-cache"}}}],
    ids=["header", "header-with-other-directives", "body-field"],
)  # fmt: skip
def test_no_cache_skips_the_stored_answer_but_stores_the_fresh_one(
    cache_setup: CacheSetup, http: httpx.Client, fake_upstream: FakeUpstream, opt_out: dict
) -> None:
    headers, text = cache_setup.tenant_a.bearer, _question()
    fake_upstream.script(Turn(text="old"), Turn(text="fresh"))
    assert _answer(http.post(CHAT, headers=headers, json=_body(text))) == "old"
    refreshed = http.post(CHAT, headers={**headers, **opt_out.get("headers", {})},
                          json=_body(text, **opt_out.get("body", {})))  # fmt: skip
    assert _answer(refreshed) == "fresh"
    assert refreshed.headers["x-gateway-cache"] == "MISS"
    assert refreshed.headers["x-gateway-cost-usd"] != "0"
    assert len(fake_upstream.requests) == 2
    assert _answer(http.post(CHAT, headers=headers, json=_body(text))) == "fresh"


@pytest.mark.parametrize(
    "opt_out",
    [{"headers": {"Cache-Control": "no-store"}}, {"body": {"gateway": {"cache": "no-store"}}}],
    ids=["header", "body-field"],
)
def test_no_store_neither_reads_nor_writes(
    cache_setup: CacheSetup, http: httpx.Client, fake_upstream: FakeUpstream, opt_out: dict
) -> None:
    headers, text = cache_setup.tenant_a.bearer, _question()
    fake_upstream.script(Turn(text="not kept"), Turn(text="kept"))
    private = http.post(CHAT, headers={**headers, **opt_out.get("headers", {})},
                        json=_body(text, **opt_out.get("body", {})))  # fmt: skip
    assert _answer(private) == "not kept"
    later = http.post(CHAT, headers=headers, json=_body(text))
    assert _answer(later) == "kept" and later.headers["x-gateway-cache"] == "MISS"


@pytest.mark.parametrize("temperature", [0.7, None], ids=["0.7", "vendor-default"])
def test_sampled_requests_are_not_cached_by_default(
    cache_setup: CacheSetup,
    http: httpx.Client,
    fake_upstream: FakeUpstream,
    temperature: float | None,
) -> None:
    headers, text = cache_setup.tenant_a.bearer, _question()
    fake_upstream.script(Turn(text="one"), Turn(text="two"))
    answers = [http.post(CHAT, headers=headers, json=_body(text, temperature)) for _ in range(2)]
    assert [_answer(answer) for answer in answers] == ["one", "two"]
    assert all("x-gateway-cache" not in answer.headers for answer in answers)
    assert len(fake_upstream.requests) == 2


def test_a_stream_is_replayed_from_a_cached_answer(
    cache_setup: CacheSetup, http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    key, text = cache_setup.tenant_a, _question()
    fake_upstream.script(Turn(text="a stored answer in several words", prompt_tokens=9,
                              completion_tokens=6))  # fmt: skip
    assert _answer(http.post(CHAT, headers=key.bearer, json=_body(text))).startswith("a stored")

    client = openai.OpenAI(base_url=f"{cache_setup.second.url}/v1", api_key=key.secret,
                           max_retries=0)  # fmt: skip
    raw = client.chat.completions.with_raw_response.create(
        **_body(text), stream=True, stream_options={"include_usage": True}
    )
    assert raw.headers["x-gateway-cache"] == "HIT"
    chunks = list(raw.parse())
    content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert content == "a stored answer in several words"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6
    final = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert final[0].choices[0].finish_reason == "stop"
    assert (final[0].model_extra or {})["x_gateway"]["cost_usd"] == 0
    assert len(fake_upstream.requests) == 1


def test_a_streamed_answer_is_stored_for_the_next_request(
    cache_setup: CacheSetup, http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    headers, text = cache_setup.tenant_b.bearer, _question()
    fake_upstream.script(Turn(text="streamed once"))
    streamed = http.post(CHAT, headers=headers, json=_body(text, stream=True))
    assert streamed.status_code == 200 and streamed.headers["x-gateway-cache"] == "MISS"
    assert "streamed" in streamed.text
    again = http.post(CHAT, headers=headers, json=_body(text))
    assert _answer(again) == "streamed once" and again.headers["x-gateway-cache"] == "HIT"
    assert len(fake_upstream.requests) == 1


def test_hits_are_counted_as_free_hits_in_usage(
    cache_setup: CacheSetup, http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    headers = cache_setup.tenant_b.bearer
    before = http.get(USAGE, headers=headers).json()["totals"]
    text = _question()
    fake_upstream.script(Turn(prompt_tokens=11, completion_tokens=7))
    for _ in range(3):
        assert http.post(CHAT, headers=headers, json=_body(text)).status_code == 200
    after = http.get(USAGE, headers=headers).json()["totals"]
    assert after["requests"] - before["requests"] == 3
    assert after["cache_hits"] - before["cache_hits"] == 2
    spent = round(after["cost_usd"] - before["cost_usd"], 10)
    assert f"{spent:.10f}".rstrip("0") == expected_cost(PRICED_MODEL, 11, 7)
