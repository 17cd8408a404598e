"""Client API keys from configuration: a JSON keys file and an environment variable."""

from gateway_adapters.auth.key_file import (
    KeyFileError,
    append_key,
    create_key,
    key_to_entry,
    load_keys,
    load_keys_file,
    parse_keys_env,
)

__all__ = [
    "KeyFileError",
    "append_key",
    "create_key",
    "key_to_entry",
    "load_keys",
    "load_keys_file",
    "parse_keys_env",
]
