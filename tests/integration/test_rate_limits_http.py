"""Rate limits over real HTTP: exact across two gateway processes on one real Redis, honest
``Retry-After``, the ``x-ratelimit-*`` headers, token reservation and reconciliation, and the
policy when Redis goes away.

Two gateways share Redis database 10 with a default of 50 requests a minute; each test uses a
key of its own, so that each starts with a full allowance. The Redis-down gateways run on a
redis-server of this module's own, which the test stops and starts again.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import aiohttp
import httpx
import pytest
from multidict import CIMultiDict

from tests.integration.gateway_controls import (
    CHAT,
    LOCAL_MODEL,
    PRICED_MODEL,
    ClientKey,
    client_key,
    keys_env,
    providers_file,
    redis_db,
    user_message,
)
from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.gateway import GatewayProcess
from tests.support.redis_server import RedisServer

REDIS_DB = 10
DEFAULT_LIMIT = 50
CONCURRENT = 200
TOKENS_PER_MINUTE = 600
FALLBACK_LIMIT = 5
FALLBACK_SHARE = 2
"""What one process admits of ``FALLBACK_LIMIT`` while Redis is down: floor(5 x 0.5), the
default ``LLM_GATEWAY_RATE_LIMIT_FAIL_OPEN_SHARE``."""
RESET = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s|\d+ms)$")
"""OpenAI's way of writing a duration: ``20ms``, ``1s``, ``1.5s``, ``6m0s``."""


@dataclass(frozen=True)
class Keys:
    burst: ClientKey
    refill: ClientKey
    tokens: ClientKey
    headers: ClientKey
    requests_only: ClientKey
    warm_up: ClientKey


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(
        burst=client_key("burst"),  # the gateways' default: 50 a minute
        refill=client_key("refill", requests_per_minute=60),  # one back every second
        tokens=client_key("tokens", requests_per_minute=1000, tokens_per_minute=TOKENS_PER_MINUTE),
        headers=client_key("headers", requests_per_minute=1000, tokens_per_minute=100_000),
        requests_only=client_key("requests-only", requests_per_minute=1000),
        warm_up=client_key("warm-up", requests_per_minute=100_000),
    )


def _start_all(gateways: list[GatewayProcess]) -> None:
    with ThreadPoolExecutor(len(gateways)) as pool:
        list(pool.map(GatewayProcess.start, gateways))


@pytest.fixture(scope="session")
def shared_gateways(
    keys: Keys,
    fake_upstream_server: FakeUpstream,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    env = {
        **keys_env(keys.burst, keys.refill, keys.tokens, keys.headers,
                    keys.requests_only, keys.warm_up),
        "LLM_GATEWAY_REDIS_URL": redis_db(redis_url, REDIS_DB),
        "LLM_GATEWAY_RATE_LIMIT_REQUESTS_PER_MINUTE": str(DEFAULT_LIMIT),
        "LLM_GATEWAY_CACHE_ENABLED": "false",
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(
            providers_file(tmp_path_factory.mktemp("limits"), fake_upstream_server.url)
        ),
        "LLM_GATEWAY_FAKE_OPENAI_API_KEY": "sk-fake-limits",
    }
    gateways = [GatewayProcess(env), GatewayProcess(env)]
    _start_all(gateways)
    yield gateways[0], gateways[1]
    for gateway in gateways:
        gateway.stop()


@dataclass(frozen=True)
class Answer:
    """What the burst test keeps of a response (aiohttp's are gone once read)."""

    status_code: int
    headers: CIMultiDict[str]
    body: dict

    def json(self) -> dict:
        return self.body

    @property
    def text(self) -> str:
        return str(self.body)


def _body(text: str = "hi", model: str = LOCAL_MODEL, **extra: object) -> dict:
    return {"model": model, "messages": user_message(text), **extra}


def _assert_rejection(response: httpx.Response | Answer, bucket: str, limit: int) -> int:
    """A 429 in OpenAI's shape with its headers; returns its Retry-After in seconds."""
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    assert bucket in error["message"]
    headers = response.headers
    assert headers[f"x-ratelimit-limit-{bucket}"] == str(limit)
    assert headers[f"x-ratelimit-remaining-{bucket}"] == "0" or bucket == "tokens"
    assert RESET.match(headers[f"x-ratelimit-reset-{bucket}"])
    retry_after = int(headers["retry-after"])
    assert retry_after >= 1
    return retry_after


async def test_two_gateways_admit_exactly_the_limit_between_them(
    shared_gateways: tuple[GatewayProcess, GatewayProcess], keys: Keys
) -> None:
    urls = [gateway.url for gateway in shared_gateways]
    connector = aiohttp.TCPConnector(limit=CONCURRENT)
    async with aiohttp.ClientSession(connector=connector) as session:
        body = _body("burst")

        async def call(index: int, key: ClientKey) -> Answer:
            url = urls[index % 2] + CHAT
            async with session.post(url, headers=key.bearer, json=body) as response:
                return Answer(response.status, response.headers.copy(), await response.json())

        # A warm-up burst under a key with room to spare opens every connection (client to
        # gateway, gateway to Redis), so that the real burst is decided in well under 1.2 s.
        await asyncio.gather(*(call(index, keys.warm_up) for index in range(CONCURRENT)))
        started = time.monotonic()
        responses = await asyncio.gather(*(call(index, keys.burst) for index in range(CONCURRENT)))
        took = time.monotonic() - started

    admitted = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    # One request's worth refills every 60/50 = 1.2 s: the burst must be over before that.
    assert took < 60 / DEFAULT_LIMIT, f"the burst took {took:.2f} s: too slow to be exact"
    assert len(admitted) == DEFAULT_LIMIT, [r.status_code for r in responses]
    # Every admission took exactly one unit from one shared bucket, whichever process ran it.
    remaining = sorted(int(r.headers["x-ratelimit-remaining-requests"]) for r in admitted)
    assert remaining == list(range(DEFAULT_LIMIT))
    assert {int(r.headers["x-ratelimit-limit-requests"]) for r in admitted} == {DEFAULT_LIMIT}
    retry_afters = [_assert_rejection(r, "requests", DEFAULT_LIMIT) for r in refused]
    assert len(refused) == CONCURRENT - DEFAULT_LIMIT
    assert max(retry_afters) <= math.ceil(60 / DEFAULT_LIMIT)

    # Honest: once the longest Retry-After has passed, a retry succeeds.
    await asyncio.sleep(max(retry_afters))
    async with httpx.AsyncClient(timeout=30) as client:
        again = await client.post(urls[1] + CHAT, headers=keys.burst.bearer, json=_body("again"))
    assert again.status_code == 200, again.text


async def test_waiting_retry_after_then_retrying_succeeds(
    shared_gateways: tuple[GatewayProcess, GatewayProcess], keys: Keys
) -> None:
    first, second = (gateway.url + CHAT for gateway in shared_gateways)
    headers = keys.refill.bearer
    async with httpx.AsyncClient(timeout=30) as client:
        burst = await asyncio.gather(
            *(client.post((first, second)[n % 2], headers=headers, json=_body()) for n in range(60))
        )
        assert [response.status_code for response in burst] == [200] * 60
        rejection = None
        for attempt in range(30):  # the refill is one a second: a few more may slip in
            url = (first, second)[attempt % 2]
            response = await client.post(url, headers=headers, json=_body())
            if response.status_code == 429:
                rejection = response
                break
            assert response.status_code == 200, response.text
        assert rejection is not None
        retry_after = _assert_rejection(rejection, "requests", 60)
        assert retry_after == 1
        await asyncio.sleep(retry_after)
        retried = await client.post(first, headers=headers, json=_body())
    assert retried.status_code == 200, retried.text


def _assert_limit_headers(response: httpx.Response, tokens: bool) -> None:
    buckets = ("requests", "tokens") if tokens else ("requests",)
    for bucket in buckets:
        assert int(response.headers[f"x-ratelimit-limit-{bucket}"]) > 0
        assert int(response.headers[f"x-ratelimit-remaining-{bucket}"]) >= 0
        assert RESET.match(response.headers[f"x-ratelimit-reset-{bucket}"]), response.headers


def test_every_answer_carries_the_ratelimit_headers(
    shared_gateways: tuple[GatewayProcess, GatewayProcess], keys: Keys, fake_upstream: FakeUpstream
) -> None:
    url = shared_gateways[0].url + CHAT
    plain = httpx.post(url, headers=keys.headers.bearer, json=_body(model=PRICED_MODEL))
    streamed = httpx.post(url, headers=keys.headers.bearer, json=_body(stream=True))
    no_token_limit = httpx.post(url, headers=keys.requests_only.bearer, json=_body())
    for response in (plain, streamed, no_token_limit):
        assert response.status_code == 200, response.text
    _assert_limit_headers(plain, tokens=True)
    _assert_limit_headers(streamed, tokens=True)
    _assert_limit_headers(no_token_limit, tokens=False)
    assert "x-ratelimit-limit-tokens" not in no_token_limit.headers
    assert plain.headers["x-ratelimit-limit-tokens"] == "100000"


def test_an_error_after_admission_still_carries_the_ratelimit_headers(
    shared_gateways: tuple[GatewayProcess, GatewayProcess], keys: Keys, fake_upstream: FakeUpstream
) -> None:
    url = shared_gateways[0].url + CHAT
    for stream in (False, True):
        fake_upstream.script(Turn(fault=Fault.SERVER_ERROR))
        body = _body(model=PRICED_MODEL, stream=stream)
        failed = httpx.post(url, headers=keys.headers.bearer, json=body)
        assert failed.status_code == 502, failed.text
        _assert_limit_headers(failed, tokens=True)


def test_tokens_are_reserved_at_admission_and_reconciled_with_real_usage(
    shared_gateways: tuple[GatewayProcess, GatewayProcess], keys: Keys, fake_upstream: FakeUpstream
) -> None:
    first, second = (gateway.url + CHAT for gateway in shared_gateways)
    headers = keys.tokens.bearer
    fake_upstream.script(*[Turn(prompt_tokens=11, completion_tokens=7)] * 2)
    # The estimate: ceil(len("tok") / 4) + 4 per message, plus max_tokens.
    estimate, used = 1 + 4 + 100, 11 + 7
    started = time.monotonic()
    one = httpx.post(first, headers=headers, json=_body("tok", PRICED_MODEL, max_tokens=100))
    two = httpx.post(second, headers=headers, json=_body("tok", PRICED_MODEL, max_tokens=100))
    refilled = TOKENS_PER_MINUTE / 60 * (time.monotonic() - started)
    assert one.status_code == two.status_code == 200, (one.text, two.text)
    assert one.headers["x-ratelimit-limit-tokens"] == str(TOKENS_PER_MINUTE)
    assert int(one.headers["x-ratelimit-remaining-tokens"]) == TOKENS_PER_MINUTE - estimate
    # The first request's reservation was settled to its real usage before the second came:
    # unsettled, the second would see two whole estimates gone.
    remaining = int(two.headers["x-ratelimit-remaining-tokens"])
    expected = TOKENS_PER_MINUTE - used - estimate
    assert expected <= remaining <= expected + math.ceil(refilled), (remaining, expected)

    # A request whose estimate is more than what is left is refused before the upstream.
    big = 590
    refused = httpx.post(first, headers=headers, json=_body("tok", PRICED_MODEL, max_tokens=big))
    retry_after = _assert_rejection(refused, "tokens", TOKENS_PER_MINUTE)
    left = int(refused.headers["x-ratelimit-remaining-tokens"])
    assert left < 1 + 4 + big
    wait = (1 + 4 + big - left) / (TOKENS_PER_MINUTE / 60)
    assert math.ceil(wait) - 1 <= retry_after <= math.ceil(wait) + 1, (retry_after, wait)
    assert len(fake_upstream.requests) == 2


# -- Redis goes away --------------------------------------------------------------------------


@dataclass(frozen=True)
class RedisDownSetup:
    redis: RedisServer
    fail_open: GatewayProcess
    fail_closed: GatewayProcess


@pytest.fixture(scope="session")
def redis_down_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisDownSetup]:
    server = RedisServer(tmp_path_factory.mktemp("own-redis")).start()
    # Authentication off: clients are limited per address (one here, 127.0.0.1).
    env = {
        "LLM_GATEWAY_REDIS_URL": server.url,
        "LLM_GATEWAY_RATE_LIMIT_REQUESTS_PER_MINUTE": str(FALLBACK_LIMIT),
        "LLM_GATEWAY_CACHE_ENABLED": "false",
    }
    gateways = [
        GatewayProcess(env),
        GatewayProcess({**env, "LLM_GATEWAY_RATE_LIMIT_STORE_DOWN": "fail_closed"}),
    ]
    _start_all(gateways)
    try:
        yield RedisDownSetup(server, gateways[0], gateways[1])
    finally:
        for gateway in gateways:
            gateway.stop()
        server.stop()


def test_redis_down_fails_open_or_closed_as_configured(redis_down_setup: RedisDownSetup) -> None:
    fail_open = redis_down_setup.fail_open.url + CHAT
    fail_closed = redis_down_setup.fail_closed.url + CHAT
    for url in (fail_open, fail_closed):
        assert httpx.post(url, json=_body()).status_code == 200

    redis_down_setup.redis.stop()
    # fail_open (the default): admitted by a per-process limiter holding its share of the
    # limit, which still limits.
    answers = [httpx.post(fail_open, json=_body(f"open {n}")) for n in range(FALLBACK_SHARE + 1)]
    assert [a.status_code for a in answers] == [200] * FALLBACK_SHARE + [429], answers[-1].text
    assert answers[0].json()["choices"][0]["message"]["content"] == "open 0"
    assert answers[0].headers["x-ratelimit-limit-requests"] == str(FALLBACK_SHARE)
    _assert_rejection(answers[-1], "requests", FALLBACK_SHARE)
    metrics = httpx.get(redis_down_setup.fail_open.url + "/metrics").text
    counted = re.search(r"^\w*rate_limit_fallbacks_total (\S+)$", metrics, re.MULTILINE)
    assert counted is not None and float(counted[1]) == FALLBACK_SHARE + 1, "each one counted"
    # fail_closed: 503, told when to come back.
    closed = httpx.post(fail_closed, json=_body())
    assert closed.status_code == 503, closed.text
    error = closed.json()["error"]
    assert (error["type"], error["code"]) == ("service_unavailable_error", "store_unavailable")
    assert int(closed.headers["retry-after"]) >= 1

    redis_down_setup.redis.start()
    recovered = httpx.post(fail_closed, json=_body())
    assert recovered.status_code == 200, recovered.text
