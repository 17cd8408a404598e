"""Loading config/tools.json: the shipped file, and every mistake caught at start-up."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway_adapters.tools import (
    CircuitBreakerBackend,
    HttpToolBackend,
    LoadedTools,
    LocalToolBackend,
    ToolConfigError,
    build_tools,
    load_tools,
)
from gateway_core.testing import FakeClock

SHIPPED = Path(__file__).parents[3] / "config" / "tools.json"
SETTINGS = {"semantic_search_url": "http://search:8081/", "ai_agents_url": "http://agents:8082"}


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.AsyncClient]:
    # Never sends anything here: the loader only hands it to the backends. One per module:
    # building a client loads the TLS trust store, which is slow.
    yield httpx.AsyncClient()


def _minimal() -> dict[str, Any]:
    return {
        "backends": {"svc": {"kind": "http"}, "local": {"kind": "local"}},
        "tools": [
            {
                "name": "get_item",
                "description": "Get an item.",
                "parameters": {
                    "type": "object",
                    "properties": {"item_id": {"type": "string"}, "verbose": {"type": "boolean"}},
                    "required": ["item_id"],
                },
                "backend": "svc",
                "http": {"method": "GET", "url": "{svc_url}/items/{item_id}"},
            },
            {
                "name": "echo",
                "description": "Echo.",
                "parameters": {"type": "object"},
                "backend": "local",
                "function": "echo",
            },
        ],
    }


def _build(document: Any, client: httpx.AsyncClient, **settings: str) -> LoadedTools:
    return build_tools(
        document, settings=settings or {"svc_url": "http://svc"}, client=client, clock=FakeClock()
    )


def _http(loaded: LoadedTools, backend: str) -> HttpToolBackend:
    guarded = loaded.backends[backend]
    assert isinstance(guarded, CircuitBreakerBackend)
    assert isinstance(guarded.inner, HttpToolBackend)
    return guarded.inner


def test_the_shipped_file_loads_with_the_tools_consumers_call(client: httpx.AsyncClient) -> None:
    loaded = load_tools(SHIPPED, settings=SETTINGS, client=client, clock=FakeClock())
    assert set(loaded.registry.names()) == {
        "search_corpus", "get_chunk", "cross_reference", "enrich_metadata", "echo", "calculator"
    }
    routes = _http(loaded, "semantic_search").routes
    assert routes["search_corpus"].url == "http://search:8081/v1/search"
    assert dict(routes["search_corpus"].body) == {
        "query": "query", "top_k": "limit", "collection": "collection", "min_score": "min_score"
    }
    assert routes["get_chunk"].url == "http://search:8081/v1/chunks/{chunk_id}"
    agents = _http(loaded, "ai_agents").routes
    assert agents["cross_reference"].url == "http://agents:8082/v1/agents/cross-reference"
    assert agents["enrich_metadata"].url == "http://agents:8082/v1/agents/enrich-metadata"
    assert isinstance(loaded.backends["local"], LocalToolBackend)
    assert set(loaded.breakers) == {"semantic_search", "ai_agents"}


def test_each_shipped_tool_has_an_object_schema_and_a_description(
    client: httpx.AsyncClient,
) -> None:
    loaded = load_tools(SHIPPED, settings=SETTINGS, client=client, clock=FakeClock())
    for spec in loaded.registry.specs():
        assert spec.description and spec.parameters["type"] == "object"


def test_backend_headers_take_settings(client: httpx.AsyncClient) -> None:
    document = _minimal()
    document["backends"]["svc"]["headers"] = {"Authorization": "Bearer {svc_token}"}
    loaded = _build(document, client, svc_url="http://svc", svc_token="t0k")
    assert _http(loaded, "svc").routes["get_item"].headers == {"Authorization": "Bearer t0k"}


def _broken(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(_minimal())
    change(document)
    return document


def _tool(document: dict[str, Any]) -> dict[str, Any]:
    return document["tools"][0]


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: _tool(d)["http"].update(url="{nowhere_url}/items"), "{nowhere_url}"),
        (lambda d: _tool(d)["http"].update(url="{svc_url}/i/{verbose}"), "{verbose}"),
        (lambda d: _tool(d)["http"].update(url="http://{item_id}/i"), "path segments"),
        (lambda d: _tool(d)["http"].update(url="/relative/{item_id}"), "absolute"),
        (lambda d: _tool(d)["http"].update(body={"colour": "c"}), "colour"),
        (lambda d: _tool(d).update(backend="nope"), "unknown backend 'nope'"),
        (lambda d: _tool(d).pop("http"), "exactly its own section"),
        (lambda d: _tool(d).update(parameters={"type": "object", "required": 3}), "JSON Schema"),
        (lambda d: _tool(d).update(parameters={"type": "string"}), '"type": "object"'),
        (lambda d: _tool(d).update(name="has spaces"), "tools[0] (has spaces): 'name' must be"),
        (lambda d: d["tools"][1].update(function="rm_rf"), "no local function 'rm_rf'"),
        (lambda d: d["tools"].append(copy.deepcopy(d["tools"][1])), "registered twice"),
        (lambda d: d["backends"]["svc"].update(kind="grpc"), "backends['svc']: 'kind' must be"),
        (lambda d: d.update(extra=1), "tools config: unknown field 'extra'"),
    ],
)
def test_mistakes_are_refused_naming_the_place(
    change: Any, complaint: str, client: httpx.AsyncClient
) -> None:
    with pytest.raises(ToolConfigError) as raised:
        _build(_broken(change), client)
    assert complaint in str(raised.value)


def test_an_empty_setting_is_refused(client: httpx.AsyncClient) -> None:
    with pytest.raises(ToolConfigError, match="svc_url' is empty"):
        _build(_minimal(), client, svc_url="")


def test_an_unreadable_file_is_a_config_error(tmp_path: Path, client: httpx.AsyncClient) -> None:
    path = tmp_path / "tools.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ToolConfigError, match="Cannot read"):
        load_tools(path, settings={}, client=client, clock=FakeClock())
    assert json.loads(SHIPPED.read_text(encoding="utf-8"))["tools"]
