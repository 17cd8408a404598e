"""Bad input over real HTTP: each gets its 4xx and an OpenAI-shaped error; nothing breaks."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as websocket_connect

from tests.support.gateway import GatewayProcess

GOOD = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def http(echo_gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=echo_gateway.url, timeout=30) as client:
        yield client


def _assert_openai_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["message"] and "Traceback" not in error["message"]
    return error


def _still_serving(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json=GOOD)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "hi"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": GOOD["messages"]}, None),
        ({"model": "echo", "messages": []}, "messages"),
        ({"model": "echo", "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({**GOOD, "temperature": 5}, "temperature"),
        ({**GOOD, "n": 0}, "n"),
        ({**GOOD, "messages": [{"role": "user"}]}, "messages[0]"),
        ({**GOOD, "api_base": "http://evil.example"}, "api_base"),
        ({**GOOD, "base_url": "http://evil.example"}, "base_url"),
        ({**GOOD, "api_key": "sk-other"}, "api_key"),
    ],
)
def test_invalid_bodies_are_400_naming_the_field(
    http: httpx.Client, body: dict, param: str | None
) -> None:
    error = _assert_openai_error(http.post("/v1/chat/completions", json=body), 400)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    if param is None:
        assert "model" in error["message"]
    _still_serving(http)


def test_fields_the_echo_provider_cannot_honour_are_refused_by_name_or_dropped(
    http: httpx.Client,
) -> None:
    extras = {"frequency_penalty": 0.5, "x_vendor": {"a": 1}, "store": False}
    refused = http.post("/v1/chat/completions", json={**GOOD, **extras})
    error = _assert_openai_error(refused, 400)
    assert (error["code"], error["param"]) == ("unsupported_parameter", "frequency_penalty")
    dropped = http.post("/v1/chat/completions", json={**GOOD, **extras, "drop_params": True})
    assert dropped.status_code == 200
    # ``store`` does not change an answer: left out without a word, as the table says.
    assert dropped.headers["x-gateway-dropped-params"] == "frequency_penalty,x_vendor"


def test_invalid_json_is_400(http: httpx.Client) -> None:
    response = http.post(
        "/v1/chat/completions", content=b'{"model": "echo", ', headers={"content-type": "application/json"}
    )
    assert _assert_openai_error(response, 400)["code"] == "invalid_json"
    _still_serving(http)


def test_wrong_content_type_is_415(http: httpx.Client) -> None:
    response = http.post(
        "/v1/chat/completions", content=b"model=echo", headers={"content-type": "text/plain"}
    )
    assert _assert_openai_error(response, 415)["code"] == "unsupported_media_type"
    _still_serving(http)


def test_a_20_mb_body_is_413_and_the_server_keeps_serving(http: httpx.Client) -> None:
    huge = b'{"model": "echo", "messages": [{"role": "user", "content": "' + b"a" * (20 * 1024 * 1024) + b'"}]}'
    response = http.post(
        "/v1/chat/completions", content=huge, headers={"content-type": "application/json"}
    )
    assert _assert_openai_error(response, 413)["code"] == "request_too_large"
    _still_serving(http)


def test_unknown_route_is_404_and_wrong_method_is_405(http: httpx.Client) -> None:
    assert _assert_openai_error(http.get("/v1/nothing-here"), 404)["code"] == "not_found"
    assert _assert_openai_error(http.get("/v1/chat/completions"), 405)["code"] == "method_not_allowed"


RAW_ROUTES = (
    "/v1/chat/completions", "/v1/embeddings", "/v1/responses", "/v1/messages",
    "/v1/messages/count_tokens", "/v1/sessions", "/v1/tools/execute",
)  # fmt: skip
"""The POST routes served raw (routes/raw_post.py)."""


@pytest.mark.parametrize("path", RAW_ROUTES)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "HEAD"])
def test_a_front_door_refuses_other_methods_naming_its_own(
    http: httpx.Client, method: str, path: str
) -> None:
    # The raw routes answer these themselves, as Litestar's router answers them for every
    # other route: OpenAI-shaped, the Messages door's included (its own errors are
    # Anthropic-shaped; a 405 was never its).
    response = http.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == "OPTIONS, POST"
    if method != "HEAD":
        error = _assert_openai_error(response, 405)
        assert error["code"] == "method_not_allowed"
        assert error["message"] == f"Method {method} is not allowed on {path}."
    preflight = http.options(path)
    assert (preflight.status_code, preflight.headers["allow"]) == (204, "OPTIONS, POST")
    assert preflight.content == b""
    _still_serving(http)


def test_a_websocket_to_a_front_door_is_refused_as_on_any_http_route(
    http: httpx.Client, echo_gateway: GatewayProcess
) -> None:
    base = echo_gateway.url.replace("http://", "ws://", 1)
    for path in (*RAW_ROUTES, "/v1/models"):  # the raw routes, a Litestar one
        with pytest.raises(InvalidStatus) as refused:
            websocket_connect(base + path, open_timeout=10)
        assert refused.value.response.status_code == 403, path
    _still_serving(http)


def test_a_query_parameter_of_the_wrong_type_is_400_naming_it(http: httpx.Client) -> None:
    url = "/v1/responses/resp_1/input_items?limit=abc&secret-looking=sk-abc"
    error = _assert_openai_error(http.get(url), 400)
    assert error["param"] == "limit"
    assert error["code"] == "invalid_request"
    assert error["message"].startswith("Invalid query parameter 'limit': ")
    assert "int" in error["message"]
    assert "sk-abc" not in error["message"]  # the URL is not echoed back
    sideways = _assert_openai_error(http.get("/v1/responses/resp_1/input_items?order=up"), 400)
    assert sideways["param"] == "order"


def test_every_response_carries_a_request_id(http: httpx.Client) -> None:
    assert http.get("/health").headers["x-request-id"]
    assert http.get("/v1/nothing-here").headers["x-request-id"]
    echoed = http.post("/v1/chat/completions", json=GOOD, headers={"x-request-id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"


def test_consumer_correlation_headers_are_tolerated(http: httpx.Client) -> None:
    headers = {"x-session-id": "random-123", "X-Tenant-ID": "t1", "X-Agent-ID": "a", "X-CMS-Mode": "1"}
    assert http.post("/v1/chat/completions", json=GOOD, headers=headers).status_code == 200


def test_health_and_readiness(http: httpx.Client) -> None:
    health = http.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["version"]
    for path in ("/ready", "/health/ready"):
        ready = http.get(path)
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        assert ready.json()["checks"]["providers"]["status"] == "ok"


def test_a_messages_tool_without_a_name_is_400_in_anthropic_shape(http: httpx.Client) -> None:
    # Found by the schema fuzzer: it was a KeyError, a 500.
    body = {"model": "echo", "max_tokens": 16, "tools": [{}],
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    response = http.post("/v1/messages", json=body)
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert "name" in error["error"]["message"]
    _still_serving(http)


def test_huge_echo_embedding_dimensions_are_refused_not_built(http: httpx.Client) -> None:
    # Found by the schema fuzzer: the echo provider built a vector of any size asked for.
    body = {"model": "echo", "input": "hi", "dimensions": 1_000_000_000}
    response = http.post("/v1/embeddings", json=body, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "dimensions"
    _still_serving(http)


JSON_ROUTES = ["/v1/chat/completions", "/v1/embeddings", "/v1/responses", "/v1/messages",
               "/v1/sessions", "/v1/tools/execute"]  # fmt: skip


@pytest.mark.parametrize("route", JSON_ROUTES)
def test_invalid_utf8_is_400_on_every_json_route(http: httpx.Client, route: str) -> None:
    bad = b'"\xff\xfe"'
    raw = (b'{"model": ' + bad + b', "input": ' + bad + b', "name": ' + bad
           + b', "context": {"a": ' + bad + b'}, "messages": [{"role": "user", "content": '
           + bad + b"}]}")
    response = http.post(route, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert "UTF-8" in response.text
    _still_serving(http)


@pytest.mark.parametrize("route", JSON_ROUTES)
def test_ten_thousand_deep_json_is_400_on_every_json_route(http: httpx.Client, route: str) -> None:
    deep = b'{"model": "echo", "context": ' + b'{"a": ' * 10_000 + b"1" + b"}" * 10_001
    response = http.post(route, content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    _still_serving(http)


@pytest.mark.parametrize("route", ["/v1/embeddings", "/v1/sessions", "/v1/tools/execute"])
@pytest.mark.parametrize("field", ["api_base", "base_url", "api_key"])
def test_upstream_overrides_are_refused_on_every_route(
    http: httpx.Client, route: str, field: str
) -> None:
    body = {"model": "echo", "input": "hi", "name": "calculator", field: "https://evil.example"}
    response = http.post(route, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("forbidden_parameter", field)
