"""The translation table: refusing by name, dropping on request, and docs/API.md's copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway_adapters.providers.field_support import (
    ANTHROPIC,
    OLLAMA,
    markdown_table,
    servable_extras,
)
from gateway_core.errors import UnsupportedParameterError

API_DOC = Path(__file__).parents[3] / "docs" / "API.md"


def test_docs_api_md_shows_the_table_in_the_code() -> None:
    text = API_DOC.read_text()
    start = text.index("<!-- field-table:start -->\n") + len("<!-- field-table:start -->\n")
    end = text.index("\n<!-- field-table:end -->")
    assert text[start:end] == markdown_table()


def test_mapped_fields_are_served_and_ignored_ones_left_out() -> None:
    extra = {"top_k": 5, "reasoning_effort": "low", "store": True}
    served, dropped = servable_extras(extra, ANTHROPIC, provider="claude", drop=False)
    assert served == {"top_k": 5, "reasoning_effort": "low"}
    assert dropped == ()


@pytest.mark.parametrize("name", ["logprobs", "a_field_nobody_knows"])
def test_unsupported_or_unknown_fields_are_refused_by_name(name: str) -> None:
    with pytest.raises(UnsupportedParameterError) as refused:
        servable_extras({name: 1}, OLLAMA, provider="local-ollama", drop=False)
    assert refused.value.param == name
    assert "local-ollama" in refused.value.message


def test_drop_params_drops_and_reports() -> None:
    served, dropped = servable_extras(
        {"logprobs": True, "top_k": 3}, OLLAMA, provider="ollama", drop=True
    )
    assert (served, dropped) == ({"top_k": 3}, ("logprobs",))
