"""``llm-gateway``: run the service (``serve``); manage client API keys (``keys create``,
``keys list|revoke|rotate|disable|enable``: see ``gateway_http.admin.cli``)."""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from gateway_adapters.auth.key_file import KeyFileError, append_key, create_key
from gateway_core.domain.money import Money
from gateway_http.admin.cli import STORE_COMMANDS, add_store_commands, run_store_command
from gateway_http.observability.logs import configure_logging, logging_config
from gateway_http.observability.metrics import prepare_multiprocess_dir
from gateway_http.settings import Settings

log = logging.getLogger("gateway_http")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    if settings.redis_url is None:
        log.warning(
            "LLM_GATEWAY_REDIS_URL is not set: sessions, rate limits, cache and usage live in "
            "this process's memory (the embedded default; not shared between workers or replicas)."
        )
    workers = None if args.reload else (args.workers or settings.workers)
    # Before any worker starts: several workers share their metrics through this directory.
    prepare_multiprocess_dir(workers or 1)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _flush_logs_then_default)
    uvicorn.run(
        "gateway_http.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=workers,
        reload=args.reload,
        log_config=logging_config(settings.log_level),
        loop="auto",
        # httptools with header-size, receipt-deadline and connection limits (server_limits.py)
        http="gateway_http.server_limits:GuardedHttpToolsProtocol",
        timeout_keep_alive=math.ceil(settings.server_keep_alive_seconds),
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds)),
        log_level=settings.log_level,
        access_log=False,
        proxy_headers=True,
        server_header=False,
    )
    return 0


def _flush_logs_then_default(signum: int, frame: FrameType | None) -> None:
    """The signal handler uvicorn finds in place, and so calls again once it has shut down.

    uvicorn handles SIGTERM/SIGINT itself (the drain), then restores the handler it found and
    raises the signal again so that the process ends as the signal says. With the default
    handler that ended the process at once, before the JSON log writer's thread had written the
    last lines: the server's own and the request lines of the streams ended at the shutdown's
    deadline. Here they are written first (``logging.shutdown``), then the signal does what it
    does by default."""
    logging.shutdown()
    if signum == signal.SIGINT:
        signal.default_int_handler(signum, frame)
        return
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


def _create_key(args: argparse.Namespace, settings: Settings) -> int:
    """Print the new secret once (stdout, alone, for scripts); store only its hash."""
    path: Path | None = args.file or settings.api_keys_file
    if path is None:
        print("llm-gateway keys create: give --file or set LLM_GATEWAY_API_KEYS_FILE",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        secret, key = create_key(
            args.name,
            key_id=args.id,
            requests_per_minute=args.requests_per_minute,
            tokens_per_minute=args.tokens_per_minute,
            allowed_models=args.allowed_model or (),
            monthly_budget_usd=args.monthly_budget_usd,
            admin=args.admin,
        )
        append_key(path, key)
    except KeyFileError as error:  # its message names the entry and field, never a secret
        print(f"llm-gateway keys create: {error}", file=sys.stderr)
        return 1
    print(secret)
    print(
        f"Created key '{key.id}' in {path} (only its SHA-256 is stored). "
        "Copy the secret above now: it is not shown again.",
        file=sys.stderr,
    )
    return 0


def _add_keys_parser(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser("keys", help="manage client API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser(
        "create", help="create a key: prints the secret once, stores only its hash"
    )
    create.add_argument("--name", required=True, help="who the key is for")
    create.add_argument("--id", help="the key id in logs, metrics and usage (default: random)")
    create.add_argument("--file", type=Path, help="keys file (default LLM_GATEWAY_API_KEYS_FILE)")
    create.add_argument("--requests-per-minute", type=int)
    create.add_argument("--tokens-per-minute", type=int)
    create.add_argument("--allowed-model", action="append", help="repeat; globs allowed (gpt-4o*)")
    create.add_argument("--monthly-budget-usd", type=Money.usd, metavar="USD")
    create.add_argument(
        "--admin", action="store_true", help="may read every key's usage and manage keys"
    )
    create.add_argument(
        "--store", action="store_true", help="into the key store (Redis), not a keys file"
    )
    create.add_argument("--expires-at", type=float, help="Unix seconds (--store only)")
    add_store_commands(key_commands)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="bind address (LLM_GATEWAY_HOST, default 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port (LLM_GATEWAY_PORT, default 8080)")
    serve.add_argument("--workers", type=int, help="worker processes (LLM_GATEWAY_WORKERS)")
    serve.add_argument("--reload", action="store_true", help="restart on code changes (dev)")
    _add_keys_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    if args.command == "serve":
        return _serve(args, settings)
    if args.command == "keys":
        if args.keys_command in STORE_COMMANDS or args.store:
            return run_store_command(args, settings)
        if args.expires_at is not None:
            print("llm-gateway keys create: --expires-at needs --store", file=sys.stderr)
            return 2
        return _create_key(args, settings)
    return 2


if __name__ == "__main__":
    sys.exit(main())
