"""Client API keys over real HTTP: each way of failing, both header forms, per-key models, the
open routes, and a canary key that a whole run never leaks.

One gateway (authentication on, real Redis database 9, debug logging so that every library's
chatter reaches the log) holds two keys: ``canary``, created with ``llm-gateway keys create``
into a keys file, and ``mini-only`` (may use ``gpt-4o-mini`` only) from ``LLM_GATEWAY_API_KEYS``.
Its upstream keys are canaries too.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
import redis
from litestar.handlers import HTTPRouteHandler

from gateway_http.app import ROUTES
from gateway_http.routes.chat import chat_completions
from gateway_http.routes.embeddings import create_embeddings
from gateway_http.routes.messages import count_tokens, create_message
from gateway_http.routes.responses import create_response
from gateway_http.routes.sessions import create_session
from gateway_http.routes.tools import execute_tool_route
from tests.integration.gateway_controls import (
    ANTHROPIC_PROVIDER_KEY_VARIABLE,
    CHAT,
    LOCAL_MODEL,
    OPENAI_PROVIDER_KEY_VARIABLE,
    OTHER_PRICED_MODEL,
    PRICED_MODEL,
    REPO_ROOT,
    USAGE,
    ClientKey,
    client_key,
    keys_env,
    providers_file,
    redis_db,
    user_message,
)
from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.gateway import GatewayProcess

REDIS_DB = 9
PROVIDER_CANARY = f"sk-provider-canary-{secrets.token_hex(12)}"
ANTHROPIC_CANARY = f"sk-ant-canary-{secrets.token_hex(12)}"
PROTECTED = [("POST", CHAT), ("GET", "/v1/models"), ("POST", "/v1/sessions"),
             ("GET", "/v1/sessions/abc"), ("DELETE", "/v1/sessions/abc"), ("GET", "/v1/tools"),
             ("POST", "/v1/tools/execute"), ("GET", USAGE), ("POST", "/v1/embeddings")]  # fmt: skip


RAW_DOORS = (chat_completions, create_embeddings, create_response, create_message, count_tokens,
             create_session, execute_tool_route)  # fmt: skip
"""The raw ASGI POST routes (routes/raw_post.py)."""


@dataclass(frozen=True)
class AuthSetup:
    gateway: GatewayProcess
    canary: str
    keys_file: Path
    mini_only: ClientKey
    redis_url: str


def _cli_create_key(keys_file: Path) -> str:
    command = [sys.executable, "-m", "gateway_http.cli", "keys", "create",
               "--name", "Canary", "--id", "canary"]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "LLM_GATEWAY_API_KEYS_FILE": str(keys_file)}
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip()
    assert secret not in done.stderr and "canary" in done.stderr
    return secret


@pytest.fixture(scope="session")
def auth_setup(
    fake_upstream_server: FakeUpstream, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AuthSetup]:
    directory = tmp_path_factory.mktemp("auth")
    keys_file = directory / "keys.json"
    canary = _cli_create_key(keys_file)
    mini_only = client_key("mini-only", allowed_models=["gpt-4o-mini"])
    url = redis_db(redis_url, REDIS_DB)
    env = {
        **keys_env(mini_only),
        "LLM_GATEWAY_API_KEYS_FILE": str(keys_file),
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(providers_file(directory, fake_upstream_server.url)),
        "LLM_GATEWAY_REDIS_URL": url,
        "LLM_GATEWAY_LOG_LEVEL": "debug",
        OPENAI_PROVIDER_KEY_VARIABLE: PROVIDER_CANARY,
        ANTHROPIC_PROVIDER_KEY_VARIABLE: ANTHROPIC_CANARY,
    }
    with GatewayProcess(env) as gateway:
        yield AuthSetup(gateway, canary, keys_file, mini_only, url)


@pytest.fixture
def http(auth_setup: AuthSetup, fake_upstream: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=auth_setup.gateway.url, timeout=10) as client:
        yield client


def _chat(model: str = LOCAL_MODEL, text: str = "hello") -> dict:
    return {"model": model, "messages": user_message(text)}


def _assert_openai_error(response: httpx.Response, status: int, type_: str, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert (error["type"], error["code"]) == (type_, code)
    assert error["message"]


def test_the_cli_keys_file_holds_only_the_hash(auth_setup: AuthSetup) -> None:
    text = auth_setup.keys_file.read_text()
    assert auth_setup.canary not in text
    assert auth_setup.canary.startswith("sk-gw-") and len(auth_setup.canary) > 40
    [entry] = json.loads(text)["keys"]
    assert entry == {
        "id": "canary",
        "name": "Canary",
        "sha256": hashlib.sha256(auth_setup.canary.encode()).hexdigest(),
    }
    assert auth_setup.keys_file.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sk-gw-not-a-key-of-ours"},
        {"x-api-key": "sk-gw-not-a-key-of-ours"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer " + "k" * 600},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "sk-gw-a-key-without-a-scheme"},
        {"x-api-key": ""},
    ],
    ids=["missing", "unknown-bearer", "unknown-x-api-key", "bearer-without-key",
         "bearer-too-long", "basic-scheme", "no-scheme", "empty-x-api-key"],
)
def test_every_v1_route_refuses_a_bad_key_with_an_openai_401(
    http: httpx.Client, fake_upstream: FakeUpstream, headers: dict[str, str]
) -> None:
    for method, path in PROTECTED:
        response = http.request(method, path, headers=headers, json=_chat(PRICED_MODEL))
        _assert_openai_error(response, 401, "authentication_error", "invalid_api_key")
    assert fake_upstream.requests == []


def test_every_v1_route_asks_who_is_calling() -> None:
    """The key check is a dependency each route declares: a new route must not forget it."""
    v1 = [handler for handler in ROUTES if any(p.startswith("/v1") for p in handler.paths)]
    assert len(v1) >= len(PROTECTED)
    for handler in v1:
        if not isinstance(handler, HTTPRouteHandler):
            # The front doors' POST routes are raw ASGI: each asks its door's callers itself.
            # The test above sends the others every bad key; the Responses and
            # Messages doors (count_tokens too) refuse one through their SDKs
            # (e2e/test_responses_replicas.py).
            assert handler in RAW_DOORS, handler.paths
            assert handler in (create_response, create_message, count_tokens) or {
                ("POST", path) for path in handler.paths
            } <= set(PROTECTED)
            continue
        # The Responses and Messages doors get their caller from their one dependency
        # (door.chat.callers.of).
        parameters = inspect.signature(handler.fn).parameters
        asking = {"caller", "responses_door", "messages_door"}
        assert asking & set(parameters), handler.paths


def test_the_openai_sdk_sees_an_authentication_error(auth_setup: AuthSetup) -> None:
    client = openai.OpenAI(base_url=f"{auth_setup.gateway.url}/v1", api_key="sk-gw-wrong",
                           max_retries=0)  # fmt: skip
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(**_chat())
    assert caught.value.status_code == 401


@pytest.mark.parametrize(
    "header",
    [("Authorization", "Bearer {}"), ("authorization", "bearer {}"), ("x-api-key", "{}"),
     ("Authorization", "Bearer   {}")],
    ids=["bearer", "bearer-lowercase", "x-api-key", "bearer-spaced"],
)
def test_both_header_forms_authenticate(
    http: httpx.Client, auth_setup: AuthSetup, header: tuple[str, str]
) -> None:
    name, template = header
    headers = {name: template.format(auth_setup.canary)}
    response = http.post(CHAT, headers=headers, json=_chat(text="both forms"))
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "both forms"
    assert http.get("/v1/models", headers=headers).status_code == 200


def test_x_api_key_wins_over_a_proxy_authorization_of_another_scheme(
    http: httpx.Client, auth_setup: AuthSetup
) -> None:
    headers = {"Authorization": "Basic cHJveHk6cGFzcw==", "x-api-key": auth_setup.canary}
    assert http.post(CHAT, headers=headers, json=_chat()).status_code == 200


def test_the_sdk_authenticates_with_a_created_key(auth_setup: AuthSetup) -> None:
    client = openai.OpenAI(base_url=f"{auth_setup.gateway.url}/v1", api_key=auth_setup.canary,
                           max_retries=0)  # fmt: skip
    completion = client.chat.completions.create(**_chat(text="sdk"))
    assert completion.choices[0].message.content == "sdk"


def test_a_model_the_key_may_not_use_is_403_before_the_upstream(
    http: httpx.Client, auth_setup: AuthSetup, fake_upstream: FakeUpstream
) -> None:
    headers = auth_setup.mini_only.bearer
    for stream in (False, True):
        body = {**_chat(PRICED_MODEL), "stream": stream}
        response = http.post(CHAT, headers=headers, json=body)
        _assert_openai_error(response, 403, "permission_error", "permission_denied")
        assert response.json()["error"]["param"] == "model"
    assert fake_upstream.requests == []
    allowed = http.post(CHAT, headers=headers, json=_chat("gpt-4o-mini"))
    assert allowed.status_code == 200, allowed.text
    assert len(fake_upstream.requests) == 1


def test_models_list_shows_only_what_the_key_may_use(
    http: httpx.Client, auth_setup: AuthSetup
) -> None:
    restricted = http.get("/v1/models", headers=auth_setup.mini_only.bearer).json()
    assert [model["id"] for model in restricted["data"]] == ["gpt-4o-mini"]
    everything = http.get("/v1/models", headers={"x-api-key": auth_setup.canary}).json()
    assert {model["id"] for model in everything["data"]} >= {PRICED_MODEL, LOCAL_MODEL}


def test_health_readiness_and_metrics_stay_open(http: httpx.Client) -> None:
    for path in ("/health", "/ready", "/health/ready", "/metrics"):
        response = http.get(path)
        assert response.status_code == 200, (path, response.text)


def _canary_run(http: httpx.Client, canary: str, upstream: FakeUpstream) -> list[httpx.Response]:
    """Everything a client does, with the canary key: chat, stream, errors, sessions, tools."""
    bearer, x_api_key = {"Authorization": f"Bearer {canary}"}, {"x-api-key": canary}
    upstream.script(
        Turn(text="plain answer"),
        Turn(text="streamed answer"),
        Turn(fault=Fault.UNAUTHORIZED),  # the vendor's message quotes part of our key
        Turn(fault=Fault.SERVER_ERROR),
        Turn(text="session answer"),
        Turn(tool_calls=(("calculator", {"expression": "6 * 7"}),)),
        Turn(text="it is 42"),
        Turn(text="claude answer"),
    )
    responses = [
        http.post(CHAT, headers=bearer, json=_chat(PRICED_MODEL, "plain")),
        http.post(CHAT, headers=x_api_key, json={**_chat(PRICED_MODEL, "stream"), "stream": True}),
        http.post(CHAT, headers=bearer, json=_chat(PRICED_MODEL, "upstream auth fails")),
        http.post(CHAT, headers=bearer, json=_chat(PRICED_MODEL, "upstream fails")),
    ]
    session = http.post("/v1/sessions", headers=bearer, json={"context": {"k": "v"}})
    session_id = session.json()["id"]
    responses += [
        session,
        http.post(CHAT, headers=bearer,
                  json={**_chat(PRICED_MODEL, "s"), "session_id": session_id}),
        http.get(f"/v1/sessions/{session_id}", headers=bearer),
        http.delete(f"/v1/sessions/{session_id}", headers=bearer),
        http.get(f"/v1/sessions/{session_id}", headers=bearer),
        http.get("/v1/tools", headers=bearer),
        http.post("/v1/tools/execute", headers=bearer,
                  json={"name": "calculator", "arguments": {"expression": "1 + 1"}}),
        http.post(CHAT, headers=bearer,
                  json={**_chat(PRICED_MODEL, "tools"), "gateway": {"tools": "all"}}),
        http.post(CHAT, headers=x_api_key, json=_chat(OTHER_PRICED_MODEL, "claude")),
        http.get(USAGE, headers=bearer),
        http.get("/v1/models", headers=bearer),
        # Near misses: the canary in a malformed header, the canary with a typo.
        http.post(CHAT, headers={"Authorization": f"Token {canary}"}, json=_chat()),
        http.post(CHAT, headers={"Authorization": f"Bearer {canary}x"}, json=_chat()),
        http.post(CHAT, headers={"x-api-key": canary[:-1]}, json=_chat()),
    ]  # fmt: skip
    return responses


def test_a_canary_key_never_appears_in_logs_bodies_headers_metrics_or_redis_keys(
    http: httpx.Client, auth_setup: AuthSetup, fake_upstream: FakeUpstream
) -> None:
    canary = auth_setup.canary
    responses = _canary_run(http, canary, fake_upstream)
    statuses = [response.status_code for response in responses]
    assert statuses == [200, 200, 502, 502, 201, 200, 200, 204, 404, 200, 200, 200, 200, 200,
                        200, 401, 401, 401]  # fmt: skip
    assert "42" in responses[11].json()["choices"][0]["message"]["content"]
    # The provider canaries were really used: the upstream saw them.
    seen = json.dumps([request.headers for request in fake_upstream.requests])
    assert PROVIDER_CANARY in seen and ANTHROPIC_CANARY in seen

    secrets_ = (canary, canary.removeprefix("sk-gw-"), PROVIDER_CANARY, ANTHROPIC_CANARY,
                PROVIDER_CANARY.removeprefix("sk-provider-canary-"),
                ANTHROPIC_CANARY.removeprefix("sk-ant-canary-"))  # fmt: skip
    metrics = http.get("/metrics")
    assert metrics.status_code == 200 and "llm_gateway_requests_total" in metrics.text
    places = {
        "response bodies": "\n".join(response.text for response in responses),
        "response headers": json.dumps([list(response.headers.items()) for response in responses]),
        "metrics": metrics.text,
        "the gateway's log": auth_setup.gateway.logs(),
        "Redis key names": "\n".join(_redis_key_names(auth_setup.redis_url)),
    }
    assert places["the gateway's log"].strip(), "debug logging wrote something to check"
    assert places["Redis key names"], "the run wrote sessions and usage to Redis"
    for where, text in places.items():
        for secret in secrets_:
            assert secret not in text, f"a secret leaked into {where}"


def _redis_key_names(url: str) -> list[str]:
    with redis.Redis.from_url(url) as client:
        return [name.decode() for name in client.scan_iter(count=1000)]
