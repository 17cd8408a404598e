"""``Live[T]``: a value that a configuration reload replaces whole.

Readers take ``holder.current`` once per request and keep using what they got, so a request
that started before a reload finishes on the objects it started with. Replacing is one
reference assignment: atomic for every reader, no lock on the request path.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Live(Generic[T]):
    __slots__ = ("current",)

    def __init__(self, value: T) -> None:
        self.current = value

    def swap(self, value: T) -> T:
        """Serve ``value`` from now on; returns the value it replaces."""
        previous, self.current = self.current, value
        return previous
