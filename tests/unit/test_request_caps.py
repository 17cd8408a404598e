"""The caps' pure checks, the model catalogue's lookups and its file's validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway_adapters.config.validation import ConfigFileError
from gateway_adapters.model_catalogue_file import load_model_catalogue, parse_model_catalogue
from gateway_core.domain.chat import ChatChunk, ChatRequest
from gateway_core.domain.messages import Message
from gateway_core.domain.request_caps import (
    ModelCatalogue,
    ModelLimits,
    OutputCap,
    RequestCaps,
    RequestSize,
    chat_size,
    check_request,
)
from gateway_core.errors import RequestCapError, UpstreamTooLargeError

REPO = Path(__file__).resolve().parents[2]
GPT = ModelLimits(128_000, 16_384)
CATALOGUE = ModelCatalogue.from_entries(
    [("gpt-4o", GPT), ("claude-*", ModelLimits(200_000, 64_000))], ModelLimits(1000, 500)
).with_aliases({"gpt": "gpt-4o", "loop-a": "loop-b", "loop-b": "loop-a"})


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-4o", 16_384), ("claude-x", 64_000), ("openai/gpt-4o", 16_384), ("gpt", 16_384),
     ("unknown", 500), ("loop-a", 500)],
)  # fmt: skip
def test_the_catalogue_finds_names_patterns_prefixes_aliases_and_a_default(
    model: str, expected: int
) -> None:
    assert CATALOGUE.limits_for(model).max_output_tokens == expected


@pytest.mark.parametrize(
    ("size", "code", "param"),
    [
        (RequestSize("gpt-4o", 1, 0, 16_385), "max_tokens_exceeded", "max_tokens"),
        (RequestSize("gpt-4o", 1, 0, 10**15, output_param="max_output_tokens"),
         "max_tokens_exceeded", "max_output_tokens"),
        (RequestSize("gpt-4o", 3, 0, None, items_param="input"), "too_many_messages", "input"),
        (RequestSize("gpt-4o", 1, 3), "too_many_tools", "tools"),
        (RequestSize("m" * 33), "model_name_too_long", "model"),
    ],
)  # fmt: skip
def test_a_request_over_a_cap_names_its_parameter(size: RequestSize, code: str, param: str) -> None:
    caps = RequestCaps(max_messages=2, max_tools=2, max_model_name_chars=32)
    with pytest.raises(RequestCapError) as caught:
        check_request(size, caps, CATALOGUE)
    assert (caught.value.code, caught.value.param) == (code, param)
    assert "m" * 33 not in caught.value.message


def test_a_request_within_every_cap_passes() -> None:
    check_request(RequestSize("gpt-4o", 2, 2, 16_384), RequestCaps(2, 2, 32), CATALOGUE)


def test_chat_names_the_limit_the_client_sent() -> None:
    request = ChatRequest("gpt-4o", (Message.user("hi"),), max_tokens=9, max_completion_tokens=9)
    assert chat_size(request).output_param == "max_completion_tokens"
    assert chat_size(ChatRequest("gpt-4o", (), max_tokens=9)).output_param == "max_tokens"


def test_the_output_cap_cuts_past_its_margin_and_counts_every_kind_of_text() -> None:
    cap = OutputCap(max_output_tokens=10, requested=None, margin=2.0)
    assert cap.limit_chars == 80
    cap.add_chunk(ChatChunk(content="x" * 40, reasoning_content="y" * 40))
    with pytest.raises(UpstreamTooLargeError) as caught:
        cap.add_chunk(ChatChunk(content="z", provider="p"))
    assert caught.value.received_bytes == 81 and not caught.value.retryable
    assert OutputCap(10, 100, 1.0).limit_chars == 400, "a larger request's own limit counts"


def test_the_output_cap_checks_a_count_its_reader_keeps_and_the_reported_tokens() -> None:
    cap = OutputCap(max_output_tokens=10, requested=None, margin=2.0)
    cap.check(80, 20)  # at the cap, not past it
    with pytest.raises(UpstreamTooLargeError) as caught:
        cap.check(81, provider="p")
    assert caught.value.received_bytes == 81 and caught.value.provider == "p"
    with pytest.raises(UpstreamTooLargeError) as caught:
        cap.check(3, reported_tokens=21)  # a vendor's own count past the cap cuts too
    assert caught.value.received_bytes == 84


def test_the_shipped_catalogue_names_every_configured_and_priced_model() -> None:
    catalogue = load_model_catalogue(REPO / "config" / "models.json")
    providers = json.loads((REPO / "config" / "providers.json").read_text())["models"]
    prices = json.loads((REPO / "config" / "pricing.json").read_text())["models"]
    names = [name for name in [*providers, *prices] if not name.startswith("_")]
    raw = json.loads((REPO / "config" / "models.json").read_text())["models"]
    assert [name for name in names if name not in raw] == []
    assert catalogue.limits_for("gpt-4o") == ModelLimits(128_000, 16_384)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"models": {}}, "'default' is required"),
        ({"default": {"context_window": 10, "max_output_tokens": 5},
          "models": {"gpt-4o": {"context_window": 10}}},
         "models['gpt-4o']: 'max_output_tokens' is required"),
        ({"default": {"context_window": 10, "max_output_tokens": 5},
          "models": {"gpt-4o": {"context_window": 10, "max_output_tokens": 11}}},
         "models['gpt-4o']: 'max_output_tokens' must not exceed 'context_window'"),
        ({"default": {"context_window": 10, "max_output_tokens": 5},
          "models": {"x": {"context_window": "10", "max_output_tokens": 1}}},
         "models['x']: 'context_window' must be an integer"),
    ],
)  # fmt: skip
def test_a_bad_models_file_names_the_file_entry_and_field(document: dict, expected: str) -> None:
    with pytest.raises(ConfigFileError) as caught:
        parse_model_catalogue(document, origin="config/models.json")
    assert str(caught.value).startswith("config/models.json: ")
    assert expected in str(caught.value)


def test_a_providers_own_deadlines_win_and_the_old_timeout_is_its_total() -> None:
    from gateway_adapters.upstream_deadlines import UpstreamDeadlines
    from gateway_http.provider_config import ProviderConfig, upstream_deadlines

    defaults = UpstreamDeadlines(3, 60, 30, 600, max_body_bytes=1024)
    own = ProviderConfig(type="openai", first_byte_timeout_seconds=300, idle_timeout_seconds=90)
    assert upstream_deadlines(own, defaults) == UpstreamDeadlines(3, 300, 90, 600, 1024)
    old = ProviderConfig(type="openai", timeout_seconds=5)
    resolved = upstream_deadlines(old, defaults)
    assert resolved.total == 5 and resolved.stream().first_byte == 5 and resolved.stream().idle == 5
    assert resolved.answer().max_body_bytes == 1024
