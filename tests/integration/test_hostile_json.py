"""Hostile JSON over real HTTP: every JSON route answers 400 naming the problem, never 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.gateway import GatewayProcess

JSON_ROUTES = [
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/responses",
    "/v1/sessions",
    "/v1/tools/execute",
]
_NESTED = b'{"a": ' * 10_000 + b"1" + b"}" * 10_000
# Each route's deep value sits in a field it really reads as free-form JSON (or skips unread).
DEEP = {
    "/v1/chat/completions": b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}],'
    b' "tools": [{"type": "function", "function": {"name": "f", "parameters": '
    + _NESTED
    + b"}}]}",
    "/v1/embeddings": b'{"model": "echo", "input": "hi", "user": "u", "x": ' + _NESTED + b"}",
    "/v1/responses": b'{"model": "echo", "input": "hi", "x": ' + _NESTED + b"}",
    "/v1/sessions": b'{"metadata": ' + _NESTED + b"}",
    "/v1/tools/execute": b'{"tool": "t", "arguments": ' + _NESTED + b"}",
}
NOT_UTF8 = b'{"model": "echo\xff\xfe", "messages": []}'


@pytest.fixture
def http(echo_gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=echo_gateway.url, timeout=30) as client:
        yield client


def _post_raw(http: httpx.Client, path: str, raw: bytes) -> httpx.Response:
    return http.post(path, content=raw, headers={"content-type": "application/json"})


@pytest.mark.parametrize("path", JSON_ROUTES)
@pytest.mark.parametrize("code", ["json_too_deep", "invalid_utf8"])
def test_hostile_bodies_are_400_naming_the_problem(
    http: httpx.Client, path: str, code: str
) -> None:
    response = _post_raw(http, path, DEEP[path] if code == "json_too_deep" else NOT_UTF8)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/embeddings", {"model": "echo", "input": "hi"}),
        ("/v1/responses", {"model": "echo", "input": "hi"}),
    ],
)
@pytest.mark.parametrize("field", ["api_base", "base_url", "api_key"])
def test_upstream_overrides_are_refused_on_every_route(
    http: httpx.Client, path: str, body: dict, field: str
) -> None:
    response = http.post(path, json={**body, field: "http://evil.example"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == field and error["code"] == "forbidden_parameter"
    assert http.post(path, json=body).status_code == 200, "the same body without it is served"
