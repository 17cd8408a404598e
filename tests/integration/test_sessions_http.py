"""Sessions over real HTTP: the consumer flow, concurrency, and two processes on one Redis.

The gateways run the shipped configuration (the echo model, which answers with the last user
message, so every reply names the turn it belongs to) on the real Redis of ``redis_url``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from tests.integration.session_calls import (
    CHAT,
    SESSIONS,
    chat,
    create_session,
    gateway_env,
    openai_error,
    read_session,
    reply_of,
    turns,
    utc,
)
from tests.support.gateway import GatewayProcess

CONCURRENT_TURNS = 50


@pytest.fixture(scope="session")
def redis_gateways(redis_url: str) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    """Two gateway processes sharing one Redis."""
    with (
        GatewayProcess(gateway_env(redis_url)) as first,
        GatewayProcess(gateway_env(redis_url)) as second,
    ):
        yield first, second


@pytest.fixture
def http(redis_gateways: tuple[GatewayProcess, GatewayProcess]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=redis_gateways[0].url, timeout=30) as client:
        yield client


@pytest.fixture
def other_http(redis_gateways: tuple[GatewayProcess, GatewayProcess]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=redis_gateways[1].url, timeout=30) as client:
        yield client


def test_consumer_flow_create_chat_read_delete(http: httpx.Client) -> None:
    context = {"book": "intro-to-ml", "chapter": 3}
    created = create_session(http, ttl_seconds=600, context=context)
    session_id = created["session_id"]
    assert created["id"] == session_id and len(session_id) >= 32
    assert created["messages"] == [] and created["context"] == context
    created_at, first_expiry = utc(created["created_at"]), utc(created["expires_at"])
    assert (first_expiry - created_at).total_seconds() == pytest.approx(600, abs=0.01)

    assert created["usage"] == {
        "turns": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
        "cached_tokens": 0, "cost_usd": 0.0,
    }  # fmt: skip
    answers = [chat(http, session_id, f"question {n}") for n in range(1, 4)]
    assert [reply_of(answer) for answer in answers] == [f"question {n}" for n in range(1, 4)]

    state = read_session(http, session_id)
    assert state["usage"]["turns"] == 3 and state["usage"]["total_tokens"] > 0
    assert_totals_of(state["usage"], answers)
    assert state["id"] == session_id and state["context"] == context
    assert turns(state["messages"]) == [
        (role, f"question {n}") for n in range(1, 4) for role in ("user", "assistant")
    ]
    assert utc(state["created_at"]) == created_at
    assert utc(state["expires_at"]) > first_expiry, "every turn slides the expiry forward"

    deleted = http.delete(f"{SESSIONS}/{session_id}")
    assert deleted.status_code == 204 and deleted.content == b""
    openai_error(http.get(f"{SESSIONS}/{session_id}"), 404, "session_not_found")
    openai_error(chat(http, session_id, "still there?"), 404, "session_not_found")
    openai_error(http.delete(f"{SESSIONS}/{session_id}"), 404, "session_not_found")


def assert_totals_of(usage: dict, answers: list[httpx.Response]) -> None:
    """A session's ``usage`` is the sum of what its turns' answers reported and were charged."""
    for field in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert usage[field] == sum(answer.json()["usage"][field] for answer in answers), field
    charged = sum(Decimal(answer.headers["x-gateway-cost-usd"]) for answer in answers)
    assert usage["cost_usd"] == float(charged)


def test_session_ids_are_unique_and_unguessable(http: httpx.Client) -> None:
    ids = {create_session(http)["id"] for _ in range(20)}
    assert len(ids) == 20
    assert all(len(session_id.removeprefix("sess_")) >= 32 for session_id in ids)


def test_default_ttl_is_an_hour(http: httpx.Client) -> None:
    created = create_session(http)
    lifetime = utc(created["expires_at"]) - utc(created["created_at"])
    assert lifetime.total_seconds() == pytest.approx(3600, abs=0.01)


def test_unknown_session_id_on_chat_is_404_never_a_fresh_conversation(http: httpx.Client) -> None:
    for unknown in (f"sess_{secrets.token_hex(16)}", "not-a-session-id"):
        error = openai_error(chat(http, unknown, "hello"), 404, "session_not_found")
        assert error["param"] == "session_id"


@pytest.mark.parametrize("header", ["x-session-id", "X-Tenant-ID", "X-Agent-ID", "X-CMS-Mode"])
def test_consumer_correlation_headers_never_select_a_session(
    http: httpx.Client, header: str
) -> None:
    session_id = create_session(http)["id"]
    for value in (f"sess_{secrets.token_hex(16)}", session_id, "tenant-42"):
        response = http.post(
            CHAT,
            json={"model": "echo", "messages": [{"role": "user", "content": "hi"}]},
            headers={header: value},
        )
        assert reply_of(response) == "hi"
    assert read_session(http, session_id)["messages"] == [], "a header must not continue a session"


async def test_concurrent_turns_on_one_session_lose_nothing_and_never_interleave(
    redis_gateways: tuple[GatewayProcess, GatewayProcess],
) -> None:
    url = redis_gateways[0].url
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        created = await http.post(SESSIONS, json={})
        session_id = created.json()["id"]

        async def turn(n: int) -> httpx.Response:
            body = {"model": "echo", "session_id": session_id,
                    "messages": [{"role": "user", "content": f"turn {n}"}]}  # fmt: skip
            return await http.post(CHAT, json=body)

        answers = await asyncio.gather(*(turn(n) for n in range(CONCURRENT_TURNS)))
        assert [reply_of(a) for a in answers] == [f"turn {n}" for n in range(CONCURRENT_TURNS)]
        stored = (await http.get(f"{SESSIONS}/{session_id}")).json()["messages"]

    assert len(stored) == 2 * CONCURRENT_TURNS
    pairs = list(zip(turns(stored)[::2], turns(stored)[1::2], strict=True))
    for (user_role, asked), (assistant_role, answered) in pairs:
        assert (user_role, assistant_role) == ("user", "assistant")
        assert answered == asked, "each user message is followed directly by its own reply"
    assert sorted(asked for (_, asked), _ in pairs) == sorted(
        f"turn {n}" for n in range(CONCURRENT_TURNS)
    )


def test_two_processes_serve_alternate_turns_of_one_session(
    http: httpx.Client, other_http: httpx.Client
) -> None:
    session_id = create_session(http)["id"]
    prompt_tokens = []
    for n in range(6):
        client = (http, other_http)[n % 2]
        response = chat(client, session_id, f"alternate {n}")
        assert reply_of(response) == f"alternate {n}"
        prompt_tokens.append(response.json()["usage"]["prompt_tokens"])
    # The echo model counts every message it is sent: a growing prompt is the history arriving,
    # whichever process stored the turn before.
    assert prompt_tokens == sorted(prompt_tokens) and len(set(prompt_tokens)) == 6
    for client in (http, other_http):
        assert turns(read_session(client, session_id)["messages"]) == [
            (role, f"alternate {n}") for n in range(6) for role in ("user", "assistant")
        ]
    assert other_http.delete(f"{SESSIONS}/{session_id}").status_code == 204
    openai_error(chat(http, session_id, "gone?"), 404, "session_not_found")


async def test_two_processes_serialise_concurrent_turns_of_one_session(
    redis_gateways: tuple[GatewayProcess, GatewayProcess],
) -> None:
    first, second = (httpx.AsyncClient(base_url=g.url, timeout=60) for g in redis_gateways)
    async with first, second:
        session_id = (await first.post(SESSIONS, json={})).json()["id"]
        answers = await asyncio.gather(*(
            (first, second)[n % 2].post(CHAT, json={
                "model": "echo", "session_id": session_id,
                "messages": [{"role": "user", "content": f"both {n}"}],
            })
            for n in range(20)
        ))  # fmt: skip
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        stored = turns((await second.get(f"{SESSIONS}/{session_id}")).json()["messages"])
    assert len(stored) == 40
    assert all(stored[i][1] == stored[i + 1][1] for i in range(0, 40, 2))
    assert {text for _, text in stored} == {f"both {n}" for n in range(20)}
