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

Entries are checked by ``gateway_adapters.config.keys``: errors say which source and entry is
wrong and which field, never a value (a field may hold a pasted secret).

``create_key`` makes a new secret and its ``ApiKey``; ``append_key`` adds the key to a keys
file (created with mode 0600 when missing). The secret is returned to the caller to print once
and is stored nowhere.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway_adapters.config.keys import KeyEntry, KeyList, KeysFile, name_key_entry
from gateway_adapters.config.validation import ConfigFileError, validate
from gateway_core.domain.api_keys import ApiKey, hash_secret, new_secret
from gateway_core.domain.money import Money

_OPTIONAL = (
    "requests_per_minute",
    "tokens_per_minute",
    "allowed_models",
    "monthly_budget_usd",
    "admin",
    "expires_at",
)


class KeyFileError(ConfigFileError):
    """A keys file or keys variable that cannot be used; the message names the entry."""


def load_keys_file(path: str | os.PathLike[str]) -> tuple[ApiKey, ...]:
    source = f"keys file {os.fspath(path)}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise KeyFileError(f"{source}: cannot be read ({type(error).__name__})") from None
    document = _parse_json(text, source)
    if not isinstance(document, dict):
        raise KeyFileError(f'{source}: expected an object {{"keys": [...]}}')
    checked = validate(
        KeysFile, document, source=source, error=KeyFileError, name_entry=name_key_entry
    )
    return _unique_keys(checked.keys, source)


def parse_keys_env(value: str, variable: str = "LLM_GATEWAY_API_KEYS") -> tuple[ApiKey, ...]:
    """Keys from an environment variable holding a JSON array of key objects."""
    source = f"environment variable {variable}"
    if not value.strip():
        return ()
    document = _parse_json(value, source)
    if not isinstance(document, list):
        raise KeyFileError(f"{source}: expected a JSON array of key objects")
    checked = validate(
        KeyList,
        document,
        source=source,
        error=KeyFileError,
        entry_depth=1,
        name_entry=name_key_entry,
    )
    return _unique_keys(checked.root, source)


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
    monthly_budget_usd: Money | None = None,
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
        if isinstance(value, Money):
            entry[field_name] = value.to_float()  # the file holds JSON numbers
        elif value not in (None, (), False):
            entry[field_name] = list(value) if isinstance(value, tuple) else value
    return entry


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        # Position only: the decoder's message may quote the text.
        position = f"line {error.lineno}, column {error.colno}"
        raise KeyFileError(f"{source}: not valid JSON ({position})") from None


def _unique_keys(entries: Sequence[KeyEntry], source: str) -> tuple[ApiKey, ...]:
    keys = tuple(entry.api_key() for entry in entries)
    _check_unique(keys, source)
    return keys


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
