"""The model of one client key as the keys file and ``LLM_GATEWAY_API_KEYS`` write it.

Messages name the field, never its value: a field may hold a pasted secret. A field that
looks like a raw key (``key``, ``secret``, ``api_key``, ...) is refused with a reminder to
store only the hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, RootModel, model_validator

from gateway_adapters.config.validation import ConfigModel, Location
from gateway_core.domain.api_keys import ApiKey, is_valid_key_id
from gateway_core.domain.money import Money

_RAW_SECRET_FIELDS = frozenset({"key", "secret", "api_key", "token", "value"})


def _positive_int(value: Any) -> Any:
    if value is not None and (type(value) is not int or value <= 0):
        raise ValueError("must be a positive integer")
    return value


def _number(value: Any) -> Any:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError("must be a number")
    return None if value is None else float(value)


def _amount(value: Any) -> Any:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError("must be a number")
    return None if value is None else Money.usd(value)


def _model_names(value: Any) -> Any:
    if not isinstance(value, list) or not all(isinstance(m, str) and m for m in value):
        raise ValueError("must be a list of model names or patterns")
    return tuple(value)


def _flag(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


PositiveLimit = Annotated[int | None, BeforeValidator(_positive_int)]


class KeyEntry(ConfigModel):
    """One key; only ``id``, ``name`` and ``sha256`` are required."""

    model_config = ConfigDict(arbitrary_types_allowed=True)  # the budget is read as ``Money``

    id: str
    name: str
    sha256: Annotated[str, AfterValidator(lambda text: text.strip().lower())]
    requests_per_minute: PositiveLimit = None
    tokens_per_minute: PositiveLimit = None
    allowed_models: Annotated[tuple[str, ...], BeforeValidator(_model_names)] = ()
    monthly_budget_usd: Annotated[Money | None, BeforeValidator(_amount)] = None
    admin: Annotated[bool, BeforeValidator(_flag)] = False
    expires_at: Annotated[float | None, BeforeValidator(_number)] = None
    """Unix seconds after which the key is refused."""

    @model_validator(mode="before")
    @classmethod
    def _no_raw_secret(cls, data: Any) -> Any:
        raw = sorted(_RAW_SECRET_FIELDS & data.keys()) if isinstance(data, Mapping) else []
        if raw:
            raise ValueError(f"field '{raw[0]}' looks like a raw key; store only its sha256")
        return data

    @model_validator(mode="after")
    def _usable(self) -> KeyEntry:
        self.api_key()  # the domain's own rules (id characters, hash shape), by field name
        return self

    def api_key(self) -> ApiKey:
        return ApiKey(
            id=self.id,
            name=self.name,
            sha256=self.sha256,
            requests_per_minute=self.requests_per_minute,
            tokens_per_minute=self.tokens_per_minute,
            allowed_models=self.allowed_models,
            monthly_budget_usd=self.monthly_budget_usd,
            admin=self.admin,
            expires_at=self.expires_at,
        )


class KeysFile(ConfigModel):
    """``{"keys": [...]}``; other top-level fields (notes) are ignored, as they always were."""

    model_config = ConfigDict(extra="ignore")

    keys: list[KeyEntry]


class KeyList(RootModel[list[KeyEntry]]):
    """``LLM_GATEWAY_API_KEYS``: a JSON array of the same objects."""

    model_config = ConfigDict(strict=True)


def name_key_entry(entry: Location, written: Any) -> str:
    """``entry 2 (id 'ci')``: counted from 1, with the id when it is a valid one.

    An id that looks like a secret (a pasted key in the wrong field) is left out.
    """
    name = f"entry {int(entry[-1]) + 1}"
    key_id = written.get("id") if isinstance(written, Mapping) else None
    if isinstance(key_id, str) and is_valid_key_id(key_id) and not key_id.startswith("sk-"):
        name += f" (id '{key_id}')"
    return name
