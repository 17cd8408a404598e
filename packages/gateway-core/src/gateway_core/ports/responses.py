"""Stored Responses API answers: what ``previous_response_id`` continues from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """One answer of ``POST /v1/responses`` with ``store`` on, as the client saw it.

    The values are JSON-ready (dicts, lists, strings, numbers): the Responses API's own
    objects, kept as sent so that a later read returns exactly what the client got.
    """

    id: str
    owner: str | None
    """The client key that created it (``None`` when authentication is off)."""
    response: Mapping[str, Any]
    """The ``response`` object."""
    input_items: Sequence[Mapping[str, Any]]
    """This request's own input items (``GET .../input_items``)."""
    conversation: Sequence[Mapping[str, Any]]
    """Every item before the answer: the earlier responses' items, then ``input_items``."""


class ResponseStore(Protocol):
    """Stored responses that expire. Every method raises ``StoreUnavailableError`` when the
    backing store cannot be reached.

    A response is invisible to every owner but its own, and to everyone once its TTL has run
    out: ``get`` answers ``None`` and ``delete`` answers ``False``, exactly as for a response
    that never existed (so an id tells another key nothing).
    """

    async def put(self, stored: StoredResponse, ttl_seconds: float) -> None: ...

    async def get(self, response_id: str, owner: str | None) -> StoredResponse | None: ...

    async def delete(self, response_id: str, owner: str | None) -> bool: ...
