"""``drop_params`` in providers.json: per provider, per route, and from the request; whichever
says so, the provider receives a request that drops what it cannot serve (issue 12)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from gateway_adapters.providers.echo.adapter import EchoChatProvider
from gateway_adapters.stores.codec import response_from_dict, response_to_dict
from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.messages import Message
from gateway_core.errors import UnsupportedParameterError
from gateway_core.testing import ScriptedProvider
from gateway_core.use_cases.complete_chat import CompleteChat
from gateway_http.provider_config import ConfigError, load_gateway_config, routing_table

DOCUMENT: dict[str, Any] = {
    "providers": {
        "strict": {"type": "anthropic"},
        "lenient": {"type": "anthropic", "drop_params": True},
    },
    "models": {
        "plain": {"provider": "strict"},
        "route-drops": {"provider": "strict", "drop_params": True},
        "provider-drops": {"provider": "lenient"},
        "route-refuses": {"provider": "lenient", "drop_params": False},
        "both": {"deployments": [{"provider": "strict"}, {"provider": "lenient"}]},
    },
    "prefixes": {"strict/": "strict", "lenient/": "lenient"},
    "patterns": [{"pattern": "lax-*", "provider": "lenient"}],
}


def _table(tmp_path: Path, document: dict[str, Any] = DOCUMENT):  # type: ignore[no-untyped-def]
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return routing_table(load_gateway_config(path))


@pytest.mark.parametrize(
    ("model", "drops"),
    [("plain", False), ("route-drops", True), ("provider-drops", True),
     ("route-refuses", False), ("strict/x", False), ("lenient/x", True), ("lax-1", True)],
)  # fmt: skip
def test_the_route_says_else_its_provider(tmp_path: Path, model: str, drops: bool) -> None:
    (target, *_) = _table(tmp_path).resolve(model)
    assert target.drop_params is drops
    (group,) = _table(tmp_path).groups(model)
    assert [d.target.drop_params for d in group.deployments] == [drops]


def test_each_deployment_follows_its_provider(tmp_path: Path) -> None:
    (group,) = _table(tmp_path).groups("both")
    assert [d.target.drop_params for d in group.deployments] == [False, True]


@pytest.mark.parametrize(
    "where", [("providers", "lenient"), ("models", "plain")], ids=["provider", "route"]
)
def test_drop_params_must_be_true_or_false(tmp_path: Path, where: tuple[str, str]) -> None:
    document = json.loads(json.dumps(DOCUMENT))
    section, name = where
    document[section][name]["drop_params"] = "true"
    with pytest.raises(ConfigError) as refused:
        _table(tmp_path, document)
    assert f"{section}['{name}']: 'drop_params'" in str(refused.value)


@pytest.mark.parametrize(
    ("model", "asked", "sent"),
    [("plain", False, False), ("plain", True, True), ("provider-drops", False, True),
     ("route-refuses", True, True)],
)  # fmt: skip
def test_the_provider_gets_the_request_with_drop_params(
    tmp_path: Path, model: str, asked: bool, sent: bool
) -> None:
    strict, lenient = ScriptedProvider("strict"), ScriptedProvider("lenient")
    chat = CompleteChat(_table(tmp_path), {"strict": strict, "lenient": lenient})
    request = ChatRequest(model, (Message.user("Hi"),), drop_params=asked)
    asyncio.run(chat.complete(request))
    (received,) = strict.requests + lenient.requests
    assert received.drop_params is sent


# -- the echo provider honours what it can, refuses or drops the rest ------------------------


def _echo_request(**fields: Any) -> ChatRequest:
    return ChatRequest("echo", (Message.user("Hello there"),), **fields)


@pytest.mark.parametrize("name", ["logprobs", "top_k", "reasoning_effort", "x_unknown"])
def test_echo_refuses_what_it_cannot_honour(name: str) -> None:
    echo = EchoChatProvider("echo")
    with pytest.raises(UnsupportedParameterError) as refused:
        asyncio.run(echo.complete(_echo_request(extra={name: 1})))
    assert refused.value.param == name
    assert "'echo'" in str(refused.value)


def test_echo_drops_and_reports_when_asked_and_ignores_bookkeeping() -> None:
    echo = EchoChatProvider("echo")
    request = _echo_request(extra={"logprobs": True, "store": False}, drop_params=True)
    answer = asyncio.run(echo.complete(request))
    assert answer.choices[0].message.content == "Hello there"
    assert answer.dropped_params == ("logprobs",)

    async def first_chunk() -> Any:
        chunks = echo.stream(request)
        try:
            return await anext(chunks)
        finally:
            await chunks.aclose()

    assert asyncio.run(first_chunk()).dropped_params == ("logprobs",)
    assert asyncio.run(echo.complete(_echo_request(extra={"store": False}))).dropped_params == ()


def test_a_stored_answer_keeps_what_was_dropped() -> None:
    answer = asyncio.run(
        EchoChatProvider("echo").complete(_echo_request(extra={"top_k": 3}, drop_params=True))
    )
    assert response_from_dict(response_to_dict(answer)).dropped_params == ("top_k",)
