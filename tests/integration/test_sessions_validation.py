"""What the session routes refuse, whose sessions a key sees, and how history stays bounded.

One gateway with authentication on (keys A and B), a history limit of ``MAX_MESSAGES``, the
echo model and real Redis.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.session_calls import (
    SESSIONS,
    chat,
    create_session,
    gateway_env,
    openai_error,
    read_session,
    reply_of,
    turns,
)
from tests.support.gateway import GatewayProcess

MAX_MESSAGES = 5
SECRETS = {"a": f"sk-gw-{secrets.token_urlsafe(32)}", "b": f"sk-gw-{secrets.token_urlsafe(32)}"}


@pytest.fixture(scope="session")
def auth_gateway(redis_url: str) -> Iterator[GatewayProcess]:
    keys = [
        {
            "id": key_id,
            "name": key_id.upper(),
            "sha256": hashlib.sha256(secret.encode()).hexdigest(),
        }
        for key_id, secret in SECRETS.items()
    ]
    env = gateway_env(
        redis_url,
        LLM_GATEWAY_AUTH_ENABLED="true",
        LLM_GATEWAY_API_KEYS=json.dumps(keys),
        LLM_GATEWAY_SESSION_MAX_MESSAGES=str(MAX_MESSAGES),
    )
    with GatewayProcess(env) as gateway:
        yield gateway


def _client(gateway: GatewayProcess, key_id: str | None) -> httpx.Client:
    headers = {"authorization": f"Bearer {SECRETS[key_id]}"} if key_id else {}
    return httpx.Client(base_url=gateway.url, headers=headers, timeout=30)


@pytest.fixture
def http(auth_gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with _client(auth_gateway, "a") as client:
        yield client


@pytest.fixture
def other_key(auth_gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with _client(auth_gateway, "b") as client:
        yield client


@pytest.mark.parametrize("ttl", [59, 0, -1, 10**9])
def test_a_ttl_out_of_range_is_a_400_naming_ttl_seconds(http: httpx.Client, ttl: int) -> None:
    error = openai_error(http.post(SESSIONS, json={"ttl_seconds": ttl}), 400, "invalid_request")
    assert error["param"] == "ttl_seconds" and "ttl_seconds" in error["message"]


def test_the_shortest_ttl_is_accepted(http: httpx.Client) -> None:
    assert create_session(http, ttl_seconds=60)["id"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"ttl_seconds": "600"}, "ttl_seconds"),
        ({"ttl_seconds": 600.5}, "ttl_seconds"),
        ({"ttl_seconds": True}, "ttl_seconds"),
        ({"context": ["not", "an", "object"]}, "context"),
        ({"metadata": "text"}, "metadata"),
        ([], None),
    ],
)
def test_a_body_of_the_wrong_shape_is_a_400_naming_the_field(
    http: httpx.Client, body: object, param: str | None
) -> None:
    error = openai_error(http.post(SESSIONS, json=body), 400)
    assert error["param"] == param
    if param is not None:
        assert param in error["message"]


def test_a_body_that_is_not_json_is_refused(http: httpx.Client) -> None:
    error = openai_error(
        http.post(
            SESSIONS, content=b"{ttl_seconds: 600", headers={"content-type": "application/json"}
        ),
        400,
        "invalid_json",
    )
    assert "JSON" in error["message"]
    openai_error(
        http.post(SESSIONS, content=b"ttl_seconds=600", headers={"content-type": "text/plain"}),
        415,
    )


def test_an_empty_body_creates_a_session_with_the_defaults(http: httpx.Client) -> None:
    created = http.post(SESSIONS, content=b"", headers={"content-type": "application/json"})
    assert created.status_code == 201, created.text
    assert created.json()["context"] == {} and created.json()["messages"] == []


@pytest.mark.parametrize(
    "unknown", [f"sess_{'0' * 32}", "sess_short", f"sess_{'g' * 32}", "x" * 300]
)
def test_unknown_sessions_are_404_on_read_and_delete(http: httpx.Client, unknown: str) -> None:
    openai_error(http.get(f"{SESSIONS}/{unknown}"), 404, "session_not_found")
    openai_error(http.delete(f"{SESSIONS}/{unknown}"), 404, "session_not_found")


def test_sessions_need_a_key(auth_gateway: GatewayProcess) -> None:
    with _client(auth_gateway, None) as anonymous:
        openai_error(anonymous.post(SESSIONS, json={}), 401)


def test_another_keys_session_is_404_and_untouched(
    http: httpx.Client, other_key: httpx.Client
) -> None:
    session_id = create_session(http, context={"owner": "a"})["id"]
    assert reply_of(chat(http, session_id, "mine")) == "mine"
    openai_error(other_key.get(f"{SESSIONS}/{session_id}"), 404, "session_not_found")
    openai_error(other_key.delete(f"{SESSIONS}/{session_id}"), 404, "session_not_found")
    openai_error(chat(other_key, session_id, "theirs"), 404, "session_not_found")
    openai_error(chat(other_key, session_id, "theirs", stream=True), 404, "session_not_found")
    state = read_session(http, session_id)
    assert turns(state["messages"]) == [("user", "mine"), ("assistant", "mine")]
    assert state["context"] == {"owner": "a"}


def test_history_is_trimmed_to_the_system_message_and_the_newest_turns(http: httpx.Client) -> None:
    session_id = create_session(http)["id"]
    system = {"role": "system", "content": "You are a counter."}
    first = {"model": "echo", "session_id": session_id,
             "messages": [system, {"role": "user", "content": "turn 1"}]}  # fmt: skip
    prompt_tokens = [http.post("/v1/chat/completions", json=first).json()["usage"]["prompt_tokens"]]
    for n in range(2, 7):
        response = chat(http, session_id, f"turn {n}")
        assert reply_of(response) == f"turn {n}"
        prompt_tokens.append(response.json()["usage"]["prompt_tokens"])
    assert turns(read_session(http, session_id)["messages"]) == [
        ("system", "You are a counter."),
        ("user", "turn 5"), ("assistant", "turn 5"),
        ("user", "turn 6"), ("assistant", "turn 6"),
    ]  # fmt: skip
    # From the third turn on the model is sent the same amount: the bounded history plus one.
    assert prompt_tokens[0] < prompt_tokens[1] < prompt_tokens[2]
    assert len(set(prompt_tokens[2:])) == 1
