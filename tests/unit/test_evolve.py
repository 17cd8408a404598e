"""``evolve`` makes the copy ``dataclasses.replace`` makes, and refuses what it cannot copy."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway_core.domain.chat import ChatChunk, ChatRequest, ToolCallDelta
from gateway_core.domain.evolve import evolve
from gateway_core.domain.messages import Message
from gateway_core.domain.usage import Usage

REQUEST = ChatRequest(model="m", messages=(Message(role="user", content="hi"),), relay=b"{}")
CHUNK = ChatChunk(index=1, content="x", tool_calls=(ToolCallDelta(0, id="c"),), usage=Usage(1, 2))

_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.binary(max_size=5)
)


@pytest.mark.parametrize("value", [REQUEST, CHUNK], ids=["ChatRequest", "ChatChunk"])
@given(data=st.data())
def test_the_copy_is_the_one_replace_makes(value: Any, data: st.DataObject) -> None:
    names = [f.name for f in dataclasses.fields(value)]
    chosen = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=4))
    changes = {name: data.draw(_values) for name in chosen}

    copy = evolve(value, **changes)

    assert copy == replace(value, **changes)
    assert type(copy) is type(value) and copy is not value
    for name in names:  # every field, changed or carried over (by identity, as replace does)
        expected = changes[name] if name in changes else getattr(value, name)
        assert getattr(copy, name) is expected


def test_the_copy_is_as_frozen_as_the_original() -> None:
    copy = evolve(CHUNK, content="y")
    with pytest.raises(dataclasses.FrozenInstanceError):
        copy.content = "z"  # type: ignore[misc]
    assert CHUNK.content == "x"


def test_an_unknown_field_is_refused_as_replace_refuses_it() -> None:
    with pytest.raises(TypeError, match="ChatChunk has no field colour"):
        evolve(CHUNK, colour="red")
    with pytest.raises(TypeError):
        replace(CHUNK, colour="red")  # type: ignore[call-arg]


@dataclass(frozen=True, slots=True)
class _Checked:
    size: int

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("negative")


@dataclass(frozen=True, slots=True)
class _Derived:
    size: int
    double: int = field(init=False, default=0)


@dataclass(slots=True)
class _Mutable:
    size: int


@dataclass(frozen=True)
class _WithoutSlots:
    size: int


@pytest.mark.parametrize(
    "value", [_Checked(1), _Derived(1), _Mutable(1), _WithoutSlots(1), object()],
    ids=["post_init", "init_false", "not_frozen", "no_slots", "not_a_dataclass"],
)  # fmt: skip
def test_classes_whose_init_does_more_than_set_fields_are_refused(value: Any) -> None:
    # A validation skipped silently would be worse than the slower copy.
    with pytest.raises(TypeError, match="evolve\\(\\) copies frozen, slotted dataclasses"):
        evolve(value, size=2)
