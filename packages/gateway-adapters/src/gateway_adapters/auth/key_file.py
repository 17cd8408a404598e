"""Client API keys from a JSON keys file and from an environment variable.

The keys file::

    {"keys": [
      {"id": "team-a", "name": "Team A", "sha256": "<64 hex>",
       "requests_per_minute": 60, "tokens_per_minute": 100000,
       "allowed_models": ["gpt-4o", "claude-*"], "monthly_budget_usd": 50.0, "admin": false,
       "expires_at": 1767225600}
    ]}

Only ``id``, ``name`` and ``sha256`` are required; ``expires_at`` is Unix seconds, after which
the key is refused. The environment variable (a small list, for
containers) holds a JSON array of the same objects: ``[{"id": "ci", "name": "CI", "sha256":
"..."}]``. Either source may be absent; ids and hashes must be unique across both.

Errors say which source and entry is wrong and which field, never a value: a field may hold a
pasted secret. A field that looks like a raw key (``key``, ``secret``, ``api_key``) is refused
with a reminder to store only the hash.

``create_key`` makes a new secret and its ``ApiKey``; ``append_key`` adds the key to a keys
file (created with mode 0600 when missing). The secret is returned to the caller to print once
and is stored nowhere.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gateway_core.domain.api_keys import ApiKey, hash_secret, is_valid_key_id, new_secret

_REQUIRED = ("id", "name", "sha256")
_OPTIONAL = (
    "requests_per_minute",
    "tokens_per_minute",
    "allowed_models",
    "monthly_budget_usd",
    "admin",
    "expires_at",
)
_RAW_SECRET_FIELDS = frozenset({"key", "secret", "api_key", "token", "value"})


class KeyFileError(ValueError):
    """A keys file or keys variable that cannot be used; the message names the entry."""


def load_keys_file(path: str | os.PathLike[str]) -> tuple[ApiKey, ...]:
    source = f"keys file {os.fspath(path)}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise KeyFileError(f"{source}: cannot be read ({type(error).__name__})") from None
    document = _parse_json(text, source)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeyFileError(f'{source}: expected an object {{"keys": [...]}}')
    return _keys_from_entries(document["keys"], source)


def parse_keys_env(value: str, variable: str = "LLM_GATEWAY_API_KEYS") -> tuple[ApiKey, ...]:
    """Keys from an environment variable holding a JSON array of key objects."""
    source = f"environment variable {variable}"
    if not value.strip():
        return ()
    document = _parse_json(value, source)
    if not isinstance(document, list):
        raise KeyFileError(f"{source}: expected a JSON array of key objects")
    return _keys_from_entries(document, source)


def load_keys(
    path: str | os.PathLike[str] | None,
    env_value: str | None,
    variable: str = "LLM_GATEWAY_API_KEYS",
) -> tuple[ApiKey, ...]:
    """Every configured key: the file's, then the variable's; ids and hashes unique."""
    keys = load_keys_file(path) if path else ()
    keys += parse_keys_env(env_value, variable) if env_value else ()
    _check_unique(keys, "configured keys")
    return keys


def create_key(
    name: str,
    *,
    key_id: str | None = None,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    allowed_models: Sequence[str] = (),
    monthly_budget_usd: float | None = None,
    admin: bool = False,
) -> tuple[str, ApiKey]:
    """A new secret and the ``ApiKey`` that stores only its hash."""
    secret = new_secret()
    try:
        key = ApiKey(
            id=key_id or f"key_{secrets.token_hex(6)}",
            name=name,
            sha256=hash_secret(secret),
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            allowed_models=tuple(allowed_models),
            monthly_budget_usd=monthly_budget_usd,
            admin=admin,
        )
    except ValueError as error:
        raise KeyFileError(f"new key: {error}") from None
    return secret, key


def append_key(path: str | os.PathLike[str], key: ApiKey) -> None:
    """Add ``key`` to the keys file, creating it if missing; refuses a duplicate id or hash.

    Written to a temporary file and renamed over the original, so a crash never leaves half a
    file; a new file gets mode 0600. Not safe against two writers at once (an admin command).
    """
    target = Path(path)
    entries = list(load_keys_file(target)) if target.exists() else []
    _check_unique([*entries, key], f"keys file {os.fspath(target)}")
    document = {"keys": [key_to_entry(existing) for existing in [*entries, key]]}
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o600
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=2)
            stream.write("\n")
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def key_to_entry(key: ApiKey) -> dict[str, Any]:
    """The keys-file object for ``key``; optional fields only when set."""
    entry: dict[str, Any] = {"id": key.id, "name": key.name, "sha256": key.sha256}
    for field_name in _OPTIONAL:
        value = getattr(key, field_name)
        if value not in (None, (), False):
            entry[field_name] = list(value) if isinstance(value, tuple) else value
    return entry


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        # Position only: the decoder's message may quote the text.
        position = f"line {error.lineno}, column {error.colno}"
        raise KeyFileError(f"{source}: not valid JSON ({position})") from None


def _keys_from_entries(entries: Iterable[Any], source: str) -> tuple[ApiKey, ...]:
    keys = tuple(
        _key_from_entry(entry, f"{source}: entry {index}") for index, entry in enumerate(entries, 1)
    )
    _check_unique(keys, source)
    return keys


def _key_from_entry(entry: Any, where: str) -> ApiKey:
    if not isinstance(entry, Mapping):
        raise KeyFileError(f"{where}: expected an object")
    key_id = entry.get("id")
    if isinstance(key_id, str) and is_valid_key_id(key_id):
        where = f"{where} (id '{key_id}')"
    raw = sorted(_RAW_SECRET_FIELDS & entry.keys())
    if raw:
        raise KeyFileError(f"{where}: field '{raw[0]}' looks like a raw key; store only its sha256")
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise KeyFileError(f"{where}: unknown field '{unknown[0]}'")
    for field_name in _REQUIRED:
        if not isinstance(entry.get(field_name), str):
            raise KeyFileError(f"{where}: '{field_name}' is required and must be a string")
    try:
        return ApiKey(
            id=entry["id"],
            name=entry["name"],
            sha256=entry["sha256"].strip().lower(),
            requests_per_minute=_optional_int(entry, "requests_per_minute"),
            tokens_per_minute=_optional_int(entry, "tokens_per_minute"),
            allowed_models=_models(entry.get("allowed_models", [])),
            monthly_budget_usd=_optional_number(entry, "monthly_budget_usd"),
            admin=_flag(entry.get("admin", False)),
            expires_at=_optional_number(entry, "expires_at"),
        )
    except (TypeError, ValueError) as error:
        raise KeyFileError(f"{where}: {error}") from None


def _optional_int(entry: Mapping[str, Any], field_name: str) -> int | None:
    value = entry.get(field_name)
    if value is not None and (type(value) is not int or value <= 0):
        raise ValueError(f"'{field_name}' must be a positive integer")
    return value


def _optional_number(entry: Mapping[str, Any], field_name: str) -> float | None:
    value = entry.get(field_name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"'{field_name}' must be a number")
    return float(value)


def _models(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(m, str) and m for m in value):
        raise ValueError("'allowed_models' must be a list of model names or patterns")
    return tuple(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("'admin' must be true or false")
    return value


def _check_unique(keys: Sequence[ApiKey], source: str) -> None:
    ids: set[str] = set()
    hashes: dict[str, str] = {}
    for key in keys:
        if key.id in ids:
            raise KeyFileError(f"{source}: the id '{key.id}' appears twice")
        if key.sha256 in hashes:
            raise KeyFileError(f"{source}: keys '{hashes[key.sha256]}' and '{key.id}' share a hash")
        ids.add(key.id)
        hashes[key.sha256] = key.id
