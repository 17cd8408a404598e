"""``llm-gateway keys list|revoke|rotate|disable|enable`` and ``keys create --store``: the key
store in Redis (``LLM_GATEWAY_REDIS_URL``), the same one the admin API writes.

Running gateways pick a change up within ``LLM_GATEWAY_KEYS_REFRESH_SECONDS``. A new secret
is printed once on stdout, alone (for scripts); everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from gateway_adapters.auth.key_file import KeyFileError, load_keys
from gateway_adapters.stores.redis.connection import build_redis
from gateway_adapters.stores.redis.keys import RedisKeyStore
from gateway_core.clock import SystemClock
from gateway_core.errors import GatewayError
from gateway_core.use_cases.manage_keys import KeyAdmin
from gateway_http.admin.schemas import key_body
from gateway_http.redis_connection import redis_connection_config
from gateway_http.settings import Settings

STORE_COMMANDS = ("list", "revoke", "rotate", "disable", "enable")


def add_store_commands(commands: argparse._SubParsersAction) -> None:
    commands.add_parser("list", help="list every key (store and configuration) as JSON lines")
    for name, text in (("revoke", "delete a key: refused everywhere within the refresh time"),
                       ("disable", "refuse a key until it is enabled again"),
                       ("enable", "accept a disabled key again")):  # fmt: skip
        commands.add_parser(name, help=text).add_argument("id", help="the key's id")
    rotate = commands.add_parser("rotate", help="a new secret (printed once) for a key")
    rotate.add_argument("id", help="the key's id")
    rotate.add_argument(
        "--overlap-seconds", type=float, default=0.0,
        help="how long the old secret keeps working (default 0: stops now)",
    )  # fmt: skip


def run_store_command(args: argparse.Namespace, settings: Settings) -> int:
    """One of ``STORE_COMMANDS``, or ``keys create --store``."""
    name = f"llm-gateway keys {args.keys_command}"
    if settings.redis_url is None:
        print(f"{name}: set LLM_GATEWAY_REDIS_URL (the key store is in Redis)", file=sys.stderr)
        return 2
    try:
        command = _COMMANDS[args.keys_command]
        return asyncio.run(_with_admin(settings, lambda admin: command(admin, args)))
    except (GatewayError, KeyFileError) as error:  # messages name ids and fields, never secrets
        print(f"{name}: {getattr(error, 'message', error)}", file=sys.stderr)
        return 1


async def _with_admin(
    settings: Settings, command: Callable[[KeyAdmin], Awaitable[int]]
) -> int:
    env_keys = settings.api_keys.get_secret_value() if settings.api_keys else None
    static = load_keys(settings.api_keys_file, env_keys)
    client = build_redis(redis_connection_config(settings))
    try:
        return await command(KeyAdmin(RedisKeyStore(client), static, SystemClock()))
    finally:
        await client.aclose()


async def _list(admin: KeyAdmin, _: argparse.Namespace) -> int:
    for view in await admin.list():
        print(json.dumps(key_body(view)))
    return 0


async def _revoke(admin: KeyAdmin, args: argparse.Namespace) -> int:
    await admin.revoke(args.id)
    print(f"Revoked key '{args.id}'.", file=sys.stderr)
    return 0


async def _set_disabled(admin: KeyAdmin, args: argparse.Namespace) -> int:
    disabled = args.keys_command == "disable"
    await admin.update(args.id, {"disabled": disabled})
    print(f"Key '{args.id}' {'disabled' if disabled else 'enabled'}.", file=sys.stderr)
    return 0


async def _rotate(admin: KeyAdmin, args: argparse.Namespace) -> int:
    key, secret = await admin.rotate(args.id, args.overlap_seconds)
    print(secret)
    until = "" if key.previous_valid_until is None else f" until {key.previous_valid_until:.0f}"
    print(f"Rotated key '{key.id}'; the old secret works{until or ' no more'}. "
          "Copy the secret above now: it is not shown again.", file=sys.stderr)  # fmt: skip
    return 0


async def _create(admin: KeyAdmin, args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {
        "name": args.name,
        "requests_per_minute": args.requests_per_minute,
        "tokens_per_minute": args.tokens_per_minute,
        "allowed_models": args.allowed_model or (),
        "monthly_budget_usd": args.monthly_budget_usd,
        "admin": args.admin,
        "expires_at": args.expires_at,
    }
    key, secret = await admin.create(fields, args.id)
    print(secret)
    print(f"Created key '{key.id}' in the key store (only its SHA-256 is stored). "
          "Copy the secret above now: it is not shown again.", file=sys.stderr)  # fmt: skip
    return 0


_COMMANDS: dict[str, Callable[[KeyAdmin, argparse.Namespace], Awaitable[int]]] = {
    "list": _list, "revoke": _revoke, "rotate": _rotate, "disable": _set_disabled,
    "enable": _set_disabled, "create": _create,
}  # fmt: skip
