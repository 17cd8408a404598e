"""Keys from the keys file and the environment; ``create_key`` and ``append_key``."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from gateway_adapters.auth import (
    KeyFileError,
    append_key,
    create_key,
    load_keys,
    load_keys_file,
    parse_keys_env,
)
from gateway_core.domain.api_keys import ApiKey, hash_secret
from gateway_core.domain.money import Money
from gateway_core.use_cases.authenticate import Authenticator

SECRET = "sk-gw-do-not-echo-me-0123456789abcdefghijklmn"
HASH = hash_secret(SECRET)


def write_keys(path: Path, entries: list[Any]) -> Path:
    path.write_text(json.dumps({"keys": entries}), encoding="utf-8")
    return path


def test_a_full_entry_becomes_an_api_key(tmp_path: Path) -> None:
    entry = {
        "id": "team-a",
        "name": "Team A",
        "sha256": HASH.upper(),
        "requests_per_minute": 60,
        "tokens_per_minute": 100_000,
        "allowed_models": ["gpt-4o", "claude-*"],
        "monthly_budget_usd": 50,
        "admin": True,
    }
    (key,) = load_keys_file(write_keys(tmp_path / "keys.json", [entry]))
    assert key == ApiKey(
        id="team-a",
        name="Team A",
        sha256=HASH,
        requests_per_minute=60,
        tokens_per_minute=100_000,
        allowed_models=("gpt-4o", "claude-*"),
        monthly_budget_usd=Money.usd(50),
        admin=True,
    )


def test_minimal_entries_get_defaults(tmp_path: Path) -> None:
    path = write_keys(tmp_path / "k.json", [{"id": "a", "name": "A", "sha256": HASH}])
    (key,) = load_keys_file(path)
    assert (key.requests_per_minute, key.allowed_models, key.admin) == (None, (), False)


def test_the_environment_holds_a_json_array_of_the_same_objects() -> None:
    keys = parse_keys_env(json.dumps([{"id": "ci", "name": "CI", "sha256": HASH}]))
    assert [key.id for key in keys] == ["ci"]
    assert parse_keys_env("  ") == ()


def test_file_and_environment_combine_with_unique_ids(tmp_path: Path) -> None:
    path = write_keys(tmp_path / "keys.json", [{"id": "a", "name": "A", "sha256": HASH}])
    other = hash_secret("sk-gw-other")
    env = json.dumps([{"id": "b", "name": "B", "sha256": other}])
    assert [key.id for key in load_keys(path, env)] == ["a", "b"]
    assert load_keys(None, None) == ()
    clash = json.dumps([{"id": "a", "name": "A again", "sha256": other}])
    with pytest.raises(KeyFileError, match="'a' appears twice"):
        load_keys(path, clash)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"id": "a", "name": "A", "sha256": SECRET}, r"entry 2 \(id 'a'\): 'sha256'"),
        ({"id": "a", "name": "A", "key": SECRET, "sha256": HASH}, "'key' looks like a raw key"),
        ({"id": "a", "name": "A", "secret": SECRET, "sha256": HASH}, "'secret' looks like"),
        ({"name": "A", "sha256": HASH}, "entry 2: 'id' is required"),
        ({"id": "a b", "name": "A", "sha256": HASH}, "entry 2: 'id' must be"),
        ({"id": "a", "sha256": HASH}, "'name' is required"),
        ({"id": "a", "name": "A", "sha256": HASH, "rpm": 5}, "unknown field 'rpm'"),
        ({"id": "a", "name": "A", "sha256": HASH, "requests_per_minute": "5"}, "positive integer"),
        ({"id": "a", "name": "A", "sha256": HASH, "tokens_per_minute": 0}, "positive integer"),
        ({"id": "a", "name": "A", "sha256": HASH, "allowed_models": "gpt-4o"}, "a list"),
        ({"id": "a", "name": "A", "sha256": HASH, "monthly_budget_usd": "9"}, "a number"),
        ({"id": "a", "name": "A", "sha256": HASH, "admin": "yes"}, "true or false"),
        (SECRET, "entry 2: expected an object"),
    ],
)
def test_a_bad_entry_is_named_and_its_values_never_echoed(
    tmp_path: Path, entry: Any, expected: str
) -> None:
    good = {"id": "ok", "name": "OK", "sha256": hash_secret("sk-gw-fine")}
    path = write_keys(tmp_path / "keys.json", [good, entry])
    with pytest.raises(KeyFileError, match=expected) as caught:
        load_keys_file(path)
    assert str(path) in str(caught.value)
    assert SECRET not in str(caught.value) and HASH not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    ["", "{", f'{{"keys": [{{"id": "{SECRET}"', "[]", '{"keys": {}}', '{"other": []}'],
)
def test_an_unusable_file_says_so_without_quoting_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KeyFileError) as caught:
        load_keys_file(path)
    assert SECRET not in str(caught.value)


def test_a_missing_file_is_a_key_file_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot be read"):
        load_keys_file(tmp_path / "absent.json")


def test_a_bad_environment_value_names_the_variable_not_the_value() -> None:
    with pytest.raises(KeyFileError, match="LLM_GATEWAY_API_KEYS") as caught:
        parse_keys_env(f"{SECRET}:{HASH}")
    assert SECRET not in str(caught.value)
    with pytest.raises(KeyFileError, match="JSON array"):
        parse_keys_env(json.dumps({"keys": []}))


def test_duplicate_hashes_in_one_file_are_refused(tmp_path: Path) -> None:
    entries = [{"id": "a", "name": "A", "sha256": HASH}, {"id": "b", "name": "B", "sha256": HASH}]
    with pytest.raises(KeyFileError, match="'a' and 'b' share a hash"):
        load_keys_file(write_keys(tmp_path / "keys.json", entries))


def test_created_key_stores_only_the_hash_and_authenticates(tmp_path: Path) -> None:
    secret, key = create_key("Reader app", key_id="reader", requests_per_minute=30)
    assert secret.startswith("sk-gw-") and key.sha256 == hash_secret(secret)
    path = tmp_path / "conf" / "keys.json"
    append_key(path, key)
    assert secret not in path.read_text(encoding="utf-8")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (loaded,) = load_keys_file(path)
    assert loaded == key
    assert Authenticator([loaded]).authenticate(f"Bearer {secret}", None).id == "reader"


def test_append_keeps_existing_keys_and_refuses_duplicates(tmp_path: Path) -> None:
    path = write_keys(tmp_path / "keys.json", [{"id": "a", "name": "A", "sha256": HASH}])
    path.chmod(0o640)
    _, second = create_key("B", allowed_models=["gpt-4o"], admin=True)
    append_key(path, second)
    assert [key.id for key in load_keys_file(path)] == ["a", second.id]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    _, clash = create_key("A again", key_id="a")
    with pytest.raises(KeyFileError, match="'a' appears twice"):
        append_key(path, clash)
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]  # no temporary left behind


def test_create_key_refuses_bad_values_with_a_key_file_error() -> None:
    with pytest.raises(KeyFileError, match="'id'"):
        create_key("x", key_id="no spaces please")
    first, second = create_key("x"), create_key("x")
    assert first[0] != second[0] and first[1].id != second[1].id


def test_expires_at_is_read_and_refused_when_not_a_number(tmp_path: Path) -> None:
    entry = {"id": "temp", "name": "Temp", "sha256": "a" * 64, "expires_at": 1767225600}
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [entry]}))
    [key] = load_keys_file(path)
    assert key.expires_at == 1767225600.0
    path.write_text(json.dumps({"keys": [{**entry, "expires_at": "tomorrow"}]}))
    with pytest.raises(KeyFileError, match="'expires_at' must be a number"):
        load_keys_file(path)
