"""``evolve`` makes the copy ``dataclasses.replace`` makes, and refuses what it cannot copy."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway_core.domain.chat import ChatChunk, ChatRequest, ToolCallDelta
from gateway_core.domain.evolve import direct_init, evolve
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


# -- direct_init ---------------------------------------------------------------------------


def _sample_class(name: str) -> Any:
    """The same frozen dataclass each call: one is left as ``dataclass`` made it, the reference
    the other, given ``direct_init``, must match."""

    @dataclass(frozen=True, slots=True)
    class Sample:
        name: str
        count: int = 3
        tags: tuple[str, ...] = ()
        usage: Usage = field(default_factory=Usage)
        notes: list[str] = field(default_factory=list)

    Sample.__qualname__ = name
    return Sample


_Reference = _sample_class("_Reference")
_Direct = direct_init(_sample_class("_Direct"))


def _fields_of(value: Any) -> dict[str, Any]:
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


@given(
    count=st.none() | st.integers(),
    tags=st.none() | st.tuples(st.text(max_size=3)),
    notes=st.none() | st.lists(st.text(max_size=3), max_size=2),
    positional=st.booleans(),
)
def test_direct_init_builds_what_the_dataclass_init_builds(
    count: int | None, tags: tuple[str, ...] | None, notes: list[str] | None, positional: bool
) -> None:
    given_ = {
        k: v for k, v in {"count": count, "tags": tags, "notes": notes}.items() if v is not None
    }
    if positional and set(given_) == {"count", "tags", "notes"}:
        direct = _Direct("n", given_["count"], given_["tags"], Usage(1), given_["notes"])
        reference = _Reference("n", given_["count"], given_["tags"], Usage(1), given_["notes"])
    else:
        direct, reference = _Direct("n", **given_), _Reference("n", **given_)
    assert _fields_of(direct) == _fields_of(reference)
    for name, value in given_.items():  # what was given is kept as it is, not copied
        assert getattr(direct, name) is value


def test_direct_init_calls_each_default_factory_once_an_instance() -> None:
    first, second = _Direct("a"), _Direct("b")
    assert first.notes == [] and first.notes is not second.notes
    assert first.usage == Usage()
    assert _Direct("c", notes=first.notes).notes is first.notes  # given, not made


def test_direct_init_refuses_wrong_calls_as_the_dataclass_init_does() -> None:
    with pytest.raises(TypeError, match="name"):
        _Direct()
    with pytest.raises(TypeError, match="colour"):
        _Direct("n", colour="red")
    with pytest.raises(TypeError):
        _Direct("n", 1, (), Usage(), [], "one too many")


def test_direct_init_leaves_the_class_frozen_hashable_and_equal_by_value() -> None:
    value = _Direct("n", tags=("a",), notes=[])
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.name = "m"
    assert value == _Direct("n", tags=("a",), notes=[])
    assert _Direct.__init__.__qualname__ == "_Direct.__init__"
    assert hash(ToolCallDelta(0, "c")) == hash(ToolCallDelta(0, "c"))


def test_the_domain_values_take_their_fields_through_direct_init() -> None:
    chunk = ChatChunk(index=1, content="x", usage=Usage(1, 2))
    assert chunk == replace(CHUNK, tool_calls=())
    assert type(chunk).__init__.__module__ == ChatChunk.__module__
    # The init dataclass writes for a frozen class sets fields through this name.
    assert "__dataclass_builtins_object__" not in ChatChunk.__init__.__code__.co_names


@pytest.mark.parametrize(
    "cls", [_Checked, _Derived, _Mutable, _WithoutSlots, object],
    ids=["post_init", "init_false", "not_frozen", "no_slots", "not_a_dataclass"],
)  # fmt: skip
def test_direct_init_refuses_classes_whose_init_does_more(cls: type) -> None:
    with pytest.raises(TypeError, match="direct_init\\(\\) speeds up frozen, slotted"):
        direct_init(cls)


def test_direct_init_refuses_keyword_only_fields() -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class KeywordOnly:
        size: int

    with pytest.raises(TypeError, match="positional parameters only"):
        direct_init(KeywordOnly)
