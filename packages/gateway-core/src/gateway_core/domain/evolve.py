"""``evolve(value, **changes)``: ``dataclasses.replace`` for the frozen, slotted values that a
request copies on its way, at a third of the cost.

``replace`` gathers every field into a keyword dict and runs ``__init__``, which in a frozen
class sets each field through ``object.__setattr__``: 11-13 us for a ``ChatRequest`` or a
``ChatChunk`` on a slow machine. A streamed request made two such copies before its first
byte (the request without its relay extras, the first chunk given its provider: neither is
made now, ``RelayTap.extras`` and the relay batches' provider say the same) and more after
it (each relayed end event given its bytes). ``evolve`` sets the copy's slots
directly, with code written once per class, as ``dataclasses`` writes ``__init__`` itself:
3.5-4.5 us on the same machine.

``direct_init`` gives such a class an ``__init__`` that sets its slots the same way. The one
``dataclass`` writes for a frozen class calls ``object.__setattr__`` per field (its frozen
``__setattr__`` is in the way of a plain assignment): about 130 ns a field, where the slot's
setter takes 60. A stream's chunks, answers, messages and outcomes set about 190 fields a
request; those calls were 5% of a JSON request's instructions and 6% of a slow stream's start
and end (``bench.instructions``).

Only for classes whose ``__init__`` does nothing else: frozen, slotted dataclasses whose every
field is an ``__init__`` argument and that have no ``__post_init__`` (nor, for
``direct_init``, a keyword-only field). Any other class is refused when it is first evolved
or decorated, so a validation added later cannot be skipped silently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Evolver = Callable[[Any, dict[str, Any]], Any]
_EVOLVERS: dict[type, _Evolver] = {}


def evolve(value: T, /, **changes: Any) -> T:
    """A copy of ``value`` with ``changes`` (field name -> new value), as
    ``dataclasses.replace(value, **changes)`` makes it."""
    evolver = _EVOLVERS.get(type(value))
    if evolver is None:
        evolver = _EVOLVERS[type(value)] = _evolver(type(value))
    copy: T = evolver(value, changes)
    return copy


def direct_init(cls: type[T]) -> type[T]:
    """Decorates a frozen, slotted dataclass (below its ``@dataclass``): the same
    ``__init__`` (parameters, defaults, factories), each field set through its slot's setter
    instead of ``object.__setattr__``."""
    fields = _plain_fields(cls, "direct_init() speeds up")
    if any(field.kw_only for field in fields):
        raise TypeError(f"direct_init() keeps positional parameters only: {cls.__qualname__}")
    parameters, lines = [], []
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    for field in fields:
        name = field.name
        value = name
        if field.default is not dataclasses.MISSING:
            namespace[f"_default_{name}"] = field.default
            parameters.append(f"{name}=_default_{name}")
        elif field.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{name}"] = field.default_factory
            parameters.append(f"{name}=_FACTORY")
            value = f"_factory_{name}() if {name} is _FACTORY else {name}"
        else:
            parameters.append(name)
        namespace[f"_set_{name}"] = cls.__dict__[name].__set__
        lines.append(f"    _set_{name}(self, {value})")
    source = "\n".join([f"def __init__(self, {', '.join(parameters)}):", *(lines or ["    pass"])])
    exec(source, namespace)  # our own code, built from the class's field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


_FACTORY: Any = object()
"""The default of a field with a ``default_factory``: the factory is called in its place."""


def _plain_fields(cls: type, what: str) -> tuple[dataclasses.Field[Any], ...]:
    """The fields of a class ``evolve`` and ``direct_init`` take; ``TypeError`` for any other."""
    params = getattr(cls, "__dataclass_params__", None)
    fields = dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ()
    if (
        params is None
        or not params.frozen
        or "__slots__" not in cls.__dict__
        or hasattr(cls, "__post_init__")
        or not all(field.init for field in fields)
    ):
        raise TypeError(f"{what} frozen, slotted dataclasses without __post_init__, "
                        f"not {cls.__qualname__}")  # fmt: skip
    return fields


def _evolver(cls: type) -> _Evolver:
    fields = _plain_fields(cls, "evolve() copies")
    names = frozenset(field.name for field in fields)
    # A line a field: ``_set_x(copy, changes["x"] if "x" in changes else value.x)``, each
    # ``_set_x`` the slot descriptor's setter (a frozen class's __setattr__ is not in the way).
    lines = ["def evolve(value, changes):"]
    lines.append("    if not _names.issuperset(changes):")
    lines.append("        _unknown(changes)")
    lines.append("    copy = _new(_cls)")
    for field in fields:
        name = field.name
        lines.append(f"    _set_{name}(copy, changes[{name!r}] if {name!r} in changes "
                     f"else value.{name})")  # fmt: skip
    lines.append("    return copy")
    namespace: dict[str, Any] = {
        "_names": names,
        "_new": object.__new__,
        "_cls": cls,
        "_unknown": _unknown_fields(cls, names),
        **{f"_set_{field.name}": cls.__dict__[field.name].__set__ for field in fields},
    }
    exec("\n".join(lines), namespace)  # our own code, built from the class's field names
    evolver: _Evolver = namespace["evolve"]
    return evolver


def _unknown_fields(cls: type, names: frozenset[str]) -> Callable[[dict[str, Any]], None]:
    def unknown(changes: dict[str, Any]) -> None:
        wrong = ", ".join(sorted(set(changes) - names))
        raise TypeError(f"{cls.__qualname__} has no field {wrong}")

    return unknown
