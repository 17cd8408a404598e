"""What ``store`` keeps and what ``previous_response_id`` continues from. Pure.

A stored response keeps the conversation up to its answer: the items of the responses before
it, then its own input items (each given an ``id``, as OpenAI lists them). Continuing from it
puts that conversation and the answer's ``output`` items before the new input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway_core.ports.responses import StoredResponse
from gateway_http.ids import new_id


def with_ids(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The items as ``input_items`` lists them: typed, with an id each."""
    listed = []
    for item in items:
        entry = dict(item)
        entry.setdefault("type", "message")
        if "id" not in entry:
            prefix = "msg" if entry["type"] == "message" else entry["type"].split("_")[0]
            entry["id"] = f"{prefix}_{new_id()}"
        listed.append(entry)
    return listed


def history_of(stored: StoredResponse) -> list[Mapping[str, Any]]:
    """The items a continuation of ``stored`` starts with."""
    return [*stored.conversation, *stored.response.get("output", [])]


_REPLAYED_WITH_ID = frozenset({"reasoning"})
"""Item types a Responses provider needs their own ids for; the others' ids are optional, and
the gateway's own (from a translated answer) would mean nothing to it."""


def for_replay(items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """A stored conversation as input for a provider that speaks the Responses API."""
    return [
        item
        if item.get("type") in _REPLAYED_WITH_ID
        else {k: v for k, v in item.items() if k != "id"}
        for item in items
    ]


def input_items_page(
    items: Sequence[Mapping[str, Any]], *, order: str, limit: int, after: str | None
) -> dict[str, Any]:
    """A page of ``GET /v1/responses/{id}/input_items`` (newest first unless ``order=asc``)."""
    ordered = list(items) if order == "asc" else list(reversed(items))
    if after is not None:
        ids = [item.get("id") for item in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    page = ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(ordered) > limit,
    }
