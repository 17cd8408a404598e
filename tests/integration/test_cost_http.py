"""Token and cost tracking over real HTTP: exact figures from config/pricing.json, streamed and
not, aborted streams, ``GET /v1/usage`` (own and admin), and monthly budgets (402).

One gateway on Redis database 12, authentication on, the response cache off (every request
reaches the fake upstream, which reports the token counts each test scripts). Each test uses
keys of its own, so that its usage totals are exactly its own requests.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import openai
import pytest
from aiohttp import web

from gateway_core.domain.money import Money
from tests.integration.gateway_controls import (
    CHAT,
    OTHER_PRICED_MODEL,
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
from tests.support.background_loop import BackgroundLoop
from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.fake_upstream.openai_wire import chunk_events
from tests.support.gateway import GatewayProcess

REDIS_DB = 12
BUDGET_USD = 0.001
PROMPT = "what does it cost?"
STALLING_MODEL = "gpt-4o-stalling"
STALLED_AFTER_WORDS = 3


class StallingUpstream:
    """An OpenAI upstream that streams the first words of its answer, then goes quiet (a slow
    model), until the gateway hangs up. The fake upstream answers at once: a gateway reading
    an answer that has already fully arrived would rightly bill all of it."""

    def __init__(self) -> None:
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._answer)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        turn = Turn(text="alpha beta gamma delta epsilon")
        events = chunk_events(turn, PRICED_MODEL, include_usage=True)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in events[: 1 + STALLED_AFTER_WORDS]:  # the role, then the words
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
        await asyncio.sleep(60)  # cancelled when the gateway closes the connection
        return response


@dataclass(frozen=True)
class Keys:
    plain: ClientKey
    streams: ClientKey
    aborts: ClientKey
    drops: ClientKey
    report: ClientKey
    admin: ClientKey
    budget: ClientKey

    def all(self) -> tuple[ClientKey, ...]:
        return (self.plain, self.streams, self.aborts, self.drops, self.report, self.admin,
                self.budget)  # fmt: skip


@dataclass(frozen=True)
class CostSetup:
    gateway: GatewayProcess
    keys: Keys


@pytest.fixture(scope="session")
def stalling_upstream(background_loop: BackgroundLoop) -> Iterator[StallingUpstream]:
    upstream = StallingUpstream()
    background_loop.run(upstream.start())
    yield upstream
    background_loop.run(upstream.stop())


@pytest.fixture(scope="session")
def cost_setup(
    fake_upstream_server: FakeUpstream,
    stalling_upstream: StallingUpstream,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CostSetup]:
    keys = Keys(
        plain=client_key("plain"),
        streams=client_key("streams"),
        aborts=client_key("aborts"),
        drops=client_key("drops"),
        report=client_key("report"),
        admin=client_key("admin", admin=True),
        budget=client_key("budget", monthly_budget_usd=Money.usd(BUDGET_USD)),
    )
    env = {
        **keys_env(*keys.all()),
        "LLM_GATEWAY_REDIS_URL": redis_db(redis_url, REDIS_DB),
        "LLM_GATEWAY_CACHE_ENABLED": "false",
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(
            providers_file(
                tmp_path_factory.mktemp("cost"),
                fake_upstream_server.url,
                extra_models={STALLING_MODEL: stalling_upstream.url},
            )
        ),
        "LLM_GATEWAY_FAKE_OPENAI_API_KEY": "sk-fake-cost",
        "LLM_GATEWAY_FAKE_ANTHROPIC_API_KEY": "sk-ant-fake-cost",
    }
    with GatewayProcess(env) as gateway:
        yield CostSetup(gateway, keys)


@pytest.fixture
def http(cost_setup: CostSetup, fake_upstream: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cost_setup.gateway.url, timeout=10) as client:
        yield client


def _body(model: str = PRICED_MODEL, text: str = "what does it cost?", **extra: object) -> dict:
    return {"model": model, "messages": user_message(text), **extra}


def _usage(http: httpx.Client, key: ClientKey, **query: str) -> dict:
    response = http.get(USAGE, headers=key.bearer, params=query)
    assert response.status_code == 200, response.text
    return response.json()


def _today(http: httpx.Client, key: ClientKey) -> str:
    """The gateway's UTC day (its default range ends today)."""
    return _usage(http, key)["end"]


@pytest.mark.parametrize(
    ("model", "prompt", "completion", "cached"),
    [(PRICED_MODEL, 1234, 567, 200), (PRICED_MODEL, 11, 7, 0),
     (OTHER_PRICED_MODEL, 3000, 1000, 1000)],
)  # fmt: skip
def test_a_response_reports_its_exact_cost(
    http: httpx.Client,
    cost_setup: CostSetup,
    fake_upstream: FakeUpstream,
    model: str,
    prompt: int,
    completion: int,
    cached: int,
) -> None:
    fake_upstream.script(
        Turn(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached)
    )
    response = http.post(CHAT, headers=cost_setup.keys.plain.bearer, json=_body(model))
    assert response.status_code == 200, response.text
    cost = expected_cost(model, prompt, completion, cached)
    assert response.headers["x-gateway-cost-usd"] == cost
    assert response.json()["x_gateway"]["cost_usd"] == float(cost)
    usage = response.json()["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (prompt, completion)


def test_a_stream_reports_its_exact_cost_in_the_final_chunk(
    http: httpx.Client, cost_setup: CostSetup, fake_upstream: FakeUpstream
) -> None:
    key = cost_setup.keys.streams
    fake_upstream.script(Turn(text="a streamed answer", prompt_tokens=1234, completion_tokens=567,
                              cached_tokens=200))  # fmt: skip
    client = openai.OpenAI(base_url=f"{cost_setup.gateway.url}/v1", api_key=key.secret,
                           max_retries=0)  # fmt: skip
    chunks = list(client.chat.completions.create(**_body(), stream=True))
    [final] = [chunk for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    cost = expected_cost(PRICED_MODEL, 1234, 567, 200)
    assert (final.model_extra or {})["x_gateway"]["cost_usd"] == float(cost)
    totals = _usage(http, key)["totals"]
    counts = totals["requests"], totals["prompt_tokens"], totals["completion_tokens"]
    assert counts == (1, 1234, 567)
    assert totals["cost_usd"] == float(cost)


def test_a_stream_the_client_abandons_is_counted_for_what_was_generated(
    http: httpx.Client, cost_setup: CostSetup
) -> None:
    key = cost_setup.keys.aborts
    body = _body(STALLING_MODEL, PROMPT, stream=True)
    words: list[str] = []
    with http.stream("POST", CHAT, headers=key.bearer, json=body) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: {"):
                delta = json.loads(line[6:])["choices"][0]["delta"]
                words += [delta["content"]] if delta.get("content") else []
            if len(words) == STALLED_AFTER_WORDS:
                break  # the client goes away while the model is still generating
    generated = "".join(words)
    assert generated == "alpha beta gamma"

    [row] = _wait_for_usage(http, key)
    # No usage from the upstream yet: estimated at about 4 characters a token.
    prompt, completion = math.ceil(len(PROMPT) / 4), math.ceil(len(generated) / 4)
    assert (row["model"], row["requests"]) == (PRICED_MODEL, 1)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (prompt, completion)
    assert row["cost_usd"] == float(expected_cost(PRICED_MODEL, prompt, completion))


def test_a_stream_the_upstream_cuts_is_counted_for_what_was_generated(
    http: httpx.Client, cost_setup: CostSetup, fake_upstream: FakeUpstream
) -> None:
    key = cost_setup.keys.drops
    fake_upstream.script(Turn(text="Hello from the fake upstream.", fault=Fault.DROP_MID_STREAM))
    response = http.post(CHAT, headers=key.bearer, json=_body(text=PROMPT, stream=True))
    assert response.status_code == 200  # the failure came after the first chunk
    assert '"error"' in response.text and "Hello" in response.text

    [row] = _wait_for_usage(http, key)
    prompt, completion = math.ceil(len(PROMPT) / 4), math.ceil(len("Hello") / 4)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (prompt, completion)
    assert row["requests"] == 1
    assert row["cost_usd"] == float(expected_cost(PRICED_MODEL, prompt, completion))


def _wait_for_usage(http: httpx.Client, key: ClientKey) -> list[dict]:
    """An aborted stream is accounted in the background, moments after the disconnect."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        rows = _usage(http, key)["data"]
        if rows:
            return rows
        time.sleep(0.05)
    raise AssertionError("the aborted stream was never accounted")


def test_usage_returns_the_callers_totals_by_model_and_day(
    http: httpx.Client, cost_setup: CostSetup, fake_upstream: FakeUpstream
) -> None:
    key = cost_setup.keys.report
    fake_upstream.script(
        Turn(prompt_tokens=100, completion_tokens=50),
        Turn(prompt_tokens=300, completion_tokens=20, cached_tokens=100),
        Turn(prompt_tokens=2000, completion_tokens=400),
    )
    for model in (PRICED_MODEL, PRICED_MODEL, OTHER_PRICED_MODEL):
        assert http.post(CHAT, headers=key.bearer, json=_body(model)).status_code == 200

    today = _today(http, key)
    report = _usage(http, key, start=today, end=today)
    gpt = expected_cost(PRICED_MODEL, 100, 50), expected_cost(PRICED_MODEL, 300, 20, 100)
    claude = expected_cost(OTHER_PRICED_MODEL, 2000, 400)
    assert report["data"] == [
        {"key_id": "report", "model": OTHER_PRICED_MODEL, "day": today, "requests": 1,
         "cache_hits": 0, "prompt_tokens": 2000, "completion_tokens": 400, "cached_tokens": 0,
         "total_tokens": 2400, "cost_usd": float(claude)},
        {"key_id": "report", "model": PRICED_MODEL, "day": today, "requests": 2,
         "cache_hits": 0, "prompt_tokens": 400, "completion_tokens": 70, "cached_tokens": 100,
         "total_tokens": 470, "cost_usd": float(Decimal(gpt[0]) + Decimal(gpt[1]))},
    ]  # fmt: skip
    totals = report["totals"]
    assert (totals["requests"], totals["total_tokens"]) == (3, 2870)
    assert totals["cost_usd"] == float(sum(map(Decimal, (*gpt, claude))))

    yesterday = (date.fromisoformat(today) - timedelta(days=1)).isoformat()
    assert _usage(http, key, start=yesterday, end=yesterday)["data"] == []


def test_an_admin_key_sees_every_keys_usage_and_others_only_their_own(
    http: httpx.Client, cost_setup: CostSetup, fake_upstream: FakeUpstream
) -> None:
    keys = cost_setup.keys
    for key in (keys.plain, keys.report):
        assert http.post(CHAT, headers=key.bearer, json=_body()).status_code == 200
    everyone = {row["key_id"] for row in _usage(http, keys.admin)["data"]}
    assert {"plain", "report"} <= everyone
    one = _usage(http, keys.admin, key_id="report")["data"]
    assert one and {row["key_id"] for row in one} == {"report"}
    assert {row["key_id"] for row in _usage(http, keys.report)["data"]} == {"report"}

    refused = http.get(USAGE, headers=keys.report.bearer, params={"key_id": "plain"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["type"] == "permission_error"


@pytest.mark.parametrize(
    "query",
    [{"start": "yesterday"}, {"start": "2026-02-30"}, {"start": "2026-03-02", "end": "2026-03-01"},
     {"start": "2020-01-01", "end": "2026-01-01"}],
    ids=["not-a-date", "no-such-day", "end-before-start", "longer-than-a-year"],
)  # fmt: skip
def test_a_bad_usage_range_is_a_400(
    http: httpx.Client, cost_setup: CostSetup, query: dict[str, str]
) -> None:
    response = http.get(USAGE, headers=cost_setup.keys.plain.bearer, params=query)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_a_key_over_its_monthly_budget_gets_402_before_the_upstream(
    http: httpx.Client, cost_setup: CostSetup, fake_upstream: FakeUpstream
) -> None:
    key = cost_setup.keys.budget
    fake_upstream.script(Turn(prompt_tokens=1000, completion_tokens=500))
    first = http.post(CHAT, headers=key.bearer, json=_body())
    assert first.status_code == 200, first.text
    assert float(first.headers["x-gateway-cost-usd"]) > BUDGET_USD

    for stream in (False, True):
        refused = http.post(CHAT, headers=key.bearer, json=_body(stream=stream))
        assert refused.status_code == 402, refused.text
        error = refused.json()["error"]
        assert (error["type"], error["code"]) == ("insufficient_quota", "budget_exceeded")
        # Retry-After: when the month (UTC) rolls over.
        now = datetime.now(UTC)
        next_month = (now.replace(day=28) + timedelta(days=4)).replace(day=1, hour=0, minute=0,
                                                                        second=0, microsecond=0)
        assert abs(int(refused.headers["retry-after"]) - (next_month - now).total_seconds()) < 60
    assert len(fake_upstream.requests) == 1, "refused before the upstream was called"
    client = openai.OpenAI(base_url=f"{cost_setup.gateway.url}/v1", api_key=key.secret,
                           max_retries=0)  # fmt: skip
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(**_body())
    assert caught.value.status_code == 402
