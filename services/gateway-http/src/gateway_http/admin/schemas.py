"""``/v1/admin/keys`` bodies: what a client may send, and the key object it gets back."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType

from gateway_core.domain.api_keys import ApiKey
from gateway_core.domain.money import Money
from gateway_core.errors import InvalidRequestError
from gateway_core.use_cases.manage_keys import KeyView
from gateway_http.schemas.json_body import decode_body


class KeyFields(Struct, kw_only=True, forbid_unknown_fields=True):
    """Every field optional; on update, an absent field is unchanged and ``null`` clears it."""

    name: str | UnsetType = UNSET
    requests_per_minute: int | UnsetType | None = UNSET
    tokens_per_minute: int | UnsetType | None = UNSET
    allowed_models: list[str] | UnsetType | None = UNSET
    monthly_budget_usd: float | UnsetType | None = UNSET
    admin: bool | UnsetType = UNSET
    disabled: bool | UnsetType = UNSET
    expires_at: float | UnsetType | None = UNSET
    """Unix seconds."""


class CreateKeyBody(KeyFields, kw_only=True, forbid_unknown_fields=True):
    id: str | UnsetType = UNSET


class RotateKeyBody(Struct, kw_only=True, forbid_unknown_fields=True):
    overlap_seconds: float = 0.0
    """How long the old secret keeps working besides the new one."""


_create = msgspec.json.Decoder(CreateKeyBody)
_update = msgspec.json.Decoder(KeyFields)
_rotate = msgspec.json.Decoder(RotateKeyBody)


def decode_create(raw: bytes) -> tuple[str | None, dict[str, Any]]:
    body = decode_body(_create, raw or b"{}")
    key_id = None if body.id is UNSET else body.id
    return key_id, _given(body, exclude="id")


def decode_update(raw: bytes) -> dict[str, Any]:
    return _given(decode_body(_update, raw or b"{}"))


def decode_rotate(raw: bytes) -> RotateKeyBody:
    return decode_body(_rotate, raw if raw.strip() else b"{}")


def _given(body: Struct, exclude: str = "") -> dict[str, Any]:
    given = {
        name: getattr(body, name)
        for name in body.__struct_fields__
        if name != exclude and getattr(body, name) is not UNSET
    }
    budget = given.get("monthly_budget_usd")
    if budget is not None:
        given["monthly_budget_usd"] = _money(budget)
    return given


def _money(amount: float) -> Money:
    try:
        return Money.usd(amount)
    except ValueError:  # finer than a picodollar: the domain's own wording, by field name
        raise InvalidRequestError(
            "Invalid key: 'monthly_budget_usd' must be a non-negative amount of money.",
            param="monthly_budget_usd",
        ) from None


def key_body(view: KeyView, secret: str | None = None) -> dict[str, Any]:
    """A key as the API shows it: never a hash; the secret only right after it was made."""
    key: ApiKey = view.key
    budget = key.monthly_budget_usd
    body: dict[str, Any] = {
        "id": key.id,
        "object": "api_key",
        "name": key.name,
        "source": "store" if view.managed else "configuration",
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "disabled": key.disabled,
        "admin": key.admin,
        "requests_per_minute": key.requests_per_minute,
        "tokens_per_minute": key.tokens_per_minute,
        "allowed_models": list(key.allowed_models),
        "monthly_budget_usd": None if budget is None else budget.to_float(),
        "previous_secret_valid_until": key.previous_valid_until,
    }
    if secret is not None:
        body["secret"] = secret
    return body
