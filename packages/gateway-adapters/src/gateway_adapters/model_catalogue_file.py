"""Read the model catalogue from ``config/models.json`` (``gateway_adapters.config.models``).

Every mistake names the file, the entry and the field, so a bad deploy fails at start-up (or a
reload is refused, the running catalogue kept) with a message an operator can act on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway_adapters.config.models import ModelsFile
from gateway_adapters.config.validation import ConfigFileError, validate
from gateway_core.domain.request_caps import ModelCatalogue


class ModelsFileError(ConfigFileError):
    """The models file is missing, is not JSON, or has an entry that is not valid."""


def load_model_catalogue(path: str | Path) -> ModelCatalogue:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ModelsFileError(
            f"Cannot read the models file {path}: {error.strerror} (set LLM_GATEWAY_MODELS_CONFIG)"
        ) from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelsFileError(
            f"The models file {path} is not valid JSON (line {error.lineno}): {error.msg}"
        ) from error
    return parse_model_catalogue(data, origin=str(path))


def parse_model_catalogue(data: Any, *, origin: str = "models") -> ModelCatalogue:
    checked = validate(ModelsFile, data, source=origin, error=ModelsFileError)
    entries = ((name, entry.limits()) for name, entry in checked.models.items())
    return ModelCatalogue.from_entries(entries, checked.default.limits())
