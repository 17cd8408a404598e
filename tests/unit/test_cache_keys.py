"""The response cache's key covers everything that changes the answer, and the tenant."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway_core.domain.cache_keys import (
    CacheUse,
    cache_key,
    cache_use_from_header,
    is_cacheable,
    is_storable,
)
from gateway_core.domain.chat import ChatRequest, ChatResponse, Choice
from gateway_core.domain.messages import ImagePart, Message, TextPart, ToolCall
from gateway_core.domain.tools import NamedToolChoice, ToolSpec

texts = st.text(max_size=6)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=5,
)
json_objects = st.dictionaries(texts, json_values, max_size=3)
parts = st.builds(TextPart, texts) | st.builds(
    ImagePart, texts, st.none() | st.sampled_from(["low", "high", "auto"])
)
messages = st.builds(
    Message,
    role=st.sampled_from(["system", "developer", "user", "assistant", "tool"]),
    content=st.none() | texts | st.lists(parts, max_size=3).map(tuple),
    name=st.none() | texts,
    tool_calls=st.lists(st.builds(ToolCall, texts, texts, texts), max_size=2).map(tuple),
    tool_call_id=st.none() | texts,
)
tools = st.builds(ToolSpec, texts, texts, json_objects)
finite = st.floats(min_value=0, max_value=2, allow_nan=False)

# Every field that changes the answer, with the values it can take.
ANSWER_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "model": texts,
    "messages": st.lists(messages, min_size=1, max_size=3).map(tuple),
    "temperature": st.none() | finite,
    "top_p": st.none() | finite,
    "max_tokens": st.none() | st.integers(1, 100_000),
    "stop": st.lists(texts, max_size=2).map(tuple),
    "n": st.integers(1, 4),
    "seed": st.none() | st.integers(-(2**31), 2**31),
    "tools": st.lists(tools, max_size=2).map(tuple),
    "tool_choice": st.none()
    | st.sampled_from(["auto", "none", "required"])
    | st.builds(NamedToolChoice, texts),
    "response_format": st.none() | json_objects,
    "parallel_tool_calls": st.none() | st.booleans(),
}
requests = st.builds(ChatRequest, **ANSWER_FIELDS)


@pytest.mark.parametrize("field", sorted(ANSWER_FIELDS))
@settings(max_examples=30)
@given(data=st.data())
def test_changing_any_answer_field_changes_the_key(field: str, data: st.DataObject) -> None:
    request = data.draw(requests, label="request")
    changed = replace(request, **{field: data.draw(ANSWER_FIELDS[field], label=field)})
    assume(changed != request)
    assert cache_key(changed, "tenant") != cache_key(request, "tenant")


@given(requests)
def test_changing_any_single_value_anywhere_in_the_request_changes_the_key(
    request: ChatRequest,
) -> None:
    """Every leaf, however deep (an image's detail, a tool call's id, a schema's keyword)."""
    key = cache_key(request, "tenant")
    for path in _leaf_paths(request, top_level=ANSWER_FIELDS):
        changed = _with_leaf(request, path, _different(_leaf(request, path)))
        assert cache_key(changed, "tenant") != key, path


@given(requests)
def test_equal_requests_share_a_key(request: ChatRequest) -> None:
    assert cache_key(copy.deepcopy(request), "tenant") == cache_key(request, "tenant")


@given(requests, texts, texts)
def test_tenants_never_share_a_key(request: ChatRequest, one: str, other: str) -> None:
    assume(one != other)
    assert cache_key(request, one) != cache_key(request, other)


@given(requests, st.booleans(), st.none() | texts, st.none() | st.dictionaries(texts, texts))
def test_fields_that_do_not_change_the_answer_do_not_change_the_key(
    request: ChatRequest, stream: bool, user: str | None, metadata: dict[str, str] | None
) -> None:
    other = replace(request, stream=stream, user=user, metadata=metadata)
    assert cache_key(other, "tenant") == cache_key(request, "tenant")


@pytest.mark.parametrize("spelling", [0, 0.0, -0.0])
def test_zero_temperature_has_one_key_however_it_is_spelled(spelling: float) -> None:
    base = ChatRequest(model="m", messages=(Message.user("hi"),), temperature=0.0)
    assert cache_key(replace(base, temperature=spelling), "t") == cache_key(base, "t")


def test_the_key_is_a_sha256_hex_digest() -> None:
    key = cache_key(ChatRequest(model="m", messages=(Message.user("hi"),)), "t")
    assert len(key) == 64 and int(key, 16) >= 0


def test_an_unknown_content_part_is_refused_rather_than_ignored() -> None:
    @dataclass(frozen=True)
    class AudioPart:
        data: str

    message = Message(role="user", content=(AudioPart("..."),))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="AudioPart"):
        cache_key(ChatRequest(model="m", messages=(message,)), "t")


def _request(**fields: Any) -> ChatRequest:
    return ChatRequest(model="m", messages=(Message.user("hi"),), **fields)


@pytest.mark.parametrize(
    ("request_", "only_deterministic", "cache_streams", "expected"),
    [
        (_request(temperature=0), True, True, True),
        (_request(temperature=None), True, True, False),
        (_request(temperature=0.7), True, True, False),
        (_request(temperature=0.7), False, True, True),
        (_request(temperature=None), False, True, True),
        (_request(temperature=0, n=2), False, True, False),
        (_request(temperature=0, stream=True), True, True, True),
        (_request(temperature=0, stream=True), True, False, False),
    ],
)
def test_cacheable_requests(
    request_: ChatRequest, only_deterministic: bool, cache_streams: bool, expected: bool
) -> None:
    decision = is_cacheable(
        request_, only_deterministic=only_deterministic, cache_streams=cache_streams
    )
    assert decision is expected


def _response(*finish_reasons: str | None) -> ChatResponse:
    choices = tuple(
        Choice(Message.assistant("ok"), reason, index)
        for index, reason in enumerate(finish_reasons)
    )
    return ChatResponse(id="r", model="m", choices=choices)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (_response("stop"), True),
        (_response("length"), True),
        (_response("tool_calls"), True),
        (_response(), False),
        (_response(None), False),
        (_response("stop", "content_filter"), False),
    ],
)
def test_storable_responses(response: ChatResponse, expected: bool) -> None:
    assert is_storable(response) is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, CacheUse(read=True, write=True)),
        ("", CacheUse(read=True, write=True)),
        ("max-age=60, private", CacheUse(read=True, write=True)),
        ("no-cache", CacheUse(read=False, write=True)),
        ("max-age=0, No-Cache", CacheUse(read=False, write=True)),
        ("no-store", CacheUse(read=False, write=False)),
        ("no-cache, no-store", CacheUse(read=False, write=False)),
    ],
)
def test_cache_control_opts_out(header: str | None, expected: CacheUse) -> None:
    assert cache_use_from_header(header) == expected


# A request is a tree of dataclasses, tuples and mappings; a leaf is a str, number or bool.
Path = tuple[Any, ...]


def _leaf_paths(node: Any, top_level: Any = None) -> list[Path]:
    if is_dataclass(node):
        names = [f.name for f in fields(node) if top_level is None or f.name in top_level]
        return [(name, *rest) for name in names for rest in _leaf_paths(getattr(node, name))]
    if isinstance(node, tuple | list):
        return [(index, *rest) for index, item in enumerate(node) for rest in _leaf_paths(item)]
    if isinstance(node, Mapping):
        return [(key, *rest) for key, value in node.items() for rest in _leaf_paths(value)]
    return [] if node is None else [()]


def _leaf(node: Any, path: Path) -> Any:
    for step in path:
        node = getattr(node, step) if is_dataclass(node) else node[step]
    return node


def _with_leaf(node: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    step, rest = path[0], path[1:]
    if is_dataclass(node):
        return replace(node, **{step: _with_leaf(getattr(node, step), rest, value)})
    if isinstance(node, tuple | list):
        items = list(node)
        items[step] = _with_leaf(items[step], rest, value)
        return type(node)(items)
    return {**node, step: _with_leaf(node[step], rest, value)}


def _different(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    return f"{value}~"


def test_unmodelled_fields_change_the_key() -> None:
    plain = ChatRequest(model="gpt-4o", messages=(Message.user("Hi"),), temperature=0)
    with_logprobs = ChatRequest(
        model="gpt-4o", messages=(Message.user("Hi"),), temperature=0, extra={"logprobs": True}
    )
    assert cache_key(plain, "k") != cache_key(with_logprobs, "k")


def test_drop_params_keys_apart_only_when_there_is_something_to_drop() -> None:
    base = ChatRequest("m", (Message.user("Hi"),), temperature=0)
    with_extra = replace(base, extra={"logprobs": True})
    # An answer that left logprobs out must not serve a request that wants them refused.
    assert cache_key(replace(with_extra, drop_params=True), "t") != cache_key(with_extra, "t")
    assert cache_key(replace(base, drop_params=True), "t") == cache_key(base, "t")
