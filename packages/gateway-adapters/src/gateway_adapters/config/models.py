"""The model of ``config/models.json``: ``{"default": {...}, "models": {"<name or glob>":
{"context_window", "max_output_tokens"}}}``, in tokens.

Top-level keys and model keys starting with ``_`` are notes; order is kept, since patterns
match in the order written (as in ``pricing.json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, field_validator, model_validator

from gateway_adapters.config.validation import ConfigModel, json_integer
from gateway_core.domain.request_caps import ModelLimits

Tokens = Annotated[int, BeforeValidator(json_integer)]


class ModelEntry(ConfigModel):
    context_window: Annotated[Tokens, Field(ge=1)]
    max_output_tokens: Annotated[Tokens, Field(ge=0)]
    """0: the model writes no text (an embedding model)."""

    @model_validator(mode="after")
    def _fits(self) -> ModelEntry:
        if self.max_output_tokens > self.context_window:
            raise ValueError("'max_output_tokens' must not exceed 'context_window'")
        return self

    def limits(self) -> ModelLimits:
        return ModelLimits(self.context_window, self.max_output_tokens)


class ModelsFile(ConfigModel):
    model_config = ConfigDict(extra="ignore")  # "_source", "_updated": notes

    default: ModelEntry
    """For a model no entry names."""
    models: dict[str, ModelEntry]

    @field_validator("models", mode="before")
    @classmethod
    def _skip_notes(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {name: entry for name, entry in value.items() if not name.startswith("_")}
