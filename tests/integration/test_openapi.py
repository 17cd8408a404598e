"""``/openapi.json`` is a valid OpenAPI 3.1 document, names every route, and tells the truth
about real answers; ``/docs`` renders it with nothing fetched from elsewhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate

from gateway_http.app import ROUTES, served_methods
from tests.integration.gateway_controls import client_key, keys_env
from tests.support.gateway import GatewayProcess


@pytest.fixture
def http(echo_gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=echo_gateway.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def admin_http() -> Iterator[httpx.Client]:
    """A gateway with authentication on and one admin key (in-memory key store), as that key."""
    admin = client_key("openapi-admin", admin=True)
    with (
        GatewayProcess(keys_env(admin)) as gateway,
        httpx.Client(base_url=gateway.url, timeout=10, headers=admin.bearer) as client,
    ):
        yield client


@pytest.fixture
def document(http: httpx.Client) -> dict[str, Any]:
    response = http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def _app_operations() -> set[tuple[str, str]]:
    operations = set()
    for handler in ROUTES:
        if not getattr(handler, "include_in_schema", True):  # a raw ASGI route has no flag
            continue
        for path in handler.paths:
            documented = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)
            operations |= {(method.lower(), documented) for method in served_methods(handler)}
    return operations


def test_every_route_is_documented_and_nothing_else(document: dict[str, Any]) -> None:
    documented = {
        (method, path) for path, methods in document["paths"].items() for method in methods
    }
    assert documented == _app_operations()


def test_options_names_every_documented_method_of_the_path(
    http: httpx.Client, document: dict[str, Any]
) -> None:
    # Litestar 2's own answer named only the first handler's methods on a path served by
    # several (litestar-org/litestar#4169).
    for path, methods in document["paths"].items():
        answer = http.options(re.sub(r"\{\w+\}", "x", path))
        assert answer.status_code == 204, path
        allowed = {method.strip() for method in answer.headers["allow"].split(",")}
        assert allowed == {method.upper() for method in methods} | {"OPTIONS"}, path


def _schema_of(document: dict[str, Any], method: str, path: str, status: int) -> dict:
    answer = document["paths"][path][method]["responses"][str(status)]
    schema = answer["content"]["application/json"]["schema"]
    # Resolve references against the document's components.
    return {**schema, "components": document["components"]}


def _check(document: dict, method: str, path: str, response: httpx.Response) -> None:
    assert str(response.status_code) in document["paths"][path][method]["responses"], (
        f"{method.upper()} {path} answered {response.status_code}, which is not documented"
    )
    if response.status_code == 204:
        return
    jsonschema.validate(response.json(), _schema_of(document, method, path, response.status_code))


def test_real_answers_match_their_documented_schemas(
    http: httpx.Client, document: dict[str, Any]
) -> None:
    chat = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
    _check(document, "post", "/v1/chat/completions", http.post("/v1/chat/completions", json=chat))
    unknown = {**chat, "model": "no-such-model-anywhere"}
    _check(document, "post", "/v1/chat/completions",
           http.post("/v1/chat/completions", json=unknown))  # fmt: skip
    _check(document, "post", "/v1/chat/completions",
           http.post("/v1/chat/completions", json={"model": "echo"}))  # fmt: skip
    responses = {"model": "echo", "input": "hi"}
    _check(document, "post", "/v1/responses", http.post("/v1/responses", json=responses))
    _check(document, "get", "/v1/models", http.get("/v1/models"))
    session = http.post("/v1/sessions", json={"ttl_seconds": 120})
    _check(document, "post", "/v1/sessions", session)
    path = "/v1/sessions/{session_id}"
    session_id = session.json()["id"]
    _check(document, "get", path, http.get(f"/v1/sessions/{session_id}"))
    _check(document, "delete", path, http.delete(f"/v1/sessions/{session_id}"))
    _check(document, "get", path, http.get(f"/v1/sessions/{session_id}"))
    _check(document, "get", "/v1/tools", http.get("/v1/tools"))
    _check(document, "get", "/v1/usage", http.get("/v1/usage"))
    _check(document, "get", "/v1/usage", http.get("/v1/usage", params={"start": "nope"}))
    _check(document, "get", "/health", http.get("/health"))
    _check(document, "get", "/ready", http.get("/ready"))


def test_admin_answers_match_their_documented_schemas(
    admin_http: httpx.Client, document: dict[str, Any]
) -> None:
    keys, one = "/v1/admin/keys", "/v1/admin/keys/{key_id}"
    created = admin_http.post(keys, json={"id": "team-a", "name": "Team A"})
    _check(document, "post", keys, created)
    _check(document, "post", keys, admin_http.post(keys, json={"id": "team-a", "name": "Again"}))
    _check(document, "get", keys, admin_http.get(keys))
    _check(document, "get", one, admin_http.get(f"{keys}/team-a"))
    _check(document, "get", one, admin_http.get(f"{keys}/nobody"))
    _check(document, "patch", one,
           admin_http.patch(f"{keys}/team-a", json={"requests_per_minute": 60}))  # fmt: skip
    _check(document, "post", f"{one}/disable", admin_http.post(f"{keys}/team-a/disable"))
    _check(document, "post", f"{one}/enable", admin_http.post(f"{keys}/team-a/enable"))
    _check(document, "post", f"{one}/rotate", admin_http.post(f"{keys}/team-a/rotate", json={}))
    revoked = admin_http.delete(f"{keys}/team-a")
    assert revoked.status_code == 200
    _check(document, "delete", one, revoked)
    _check(document, "delete", one, admin_http.delete(f"{keys}/team-a"))


def test_the_docs_page_renders_the_document_without_any_outside_resource(
    http: httpx.Client,
) -> None:
    page = http.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in page.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text)
    assert "fetch(" in page.text and "<script" in page.text
