"""``llm-gateway``: run the service (``serve``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from gateway_http.settings import Settings

log = logging.getLogger("gateway_http")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    if settings.redis_url is None:
        log.warning(
            "LLM_GATEWAY_REDIS_URL is not set: sessions, rate limits, cache and usage live in "
            "this process's memory (the embedded default; not shared between workers or replicas)."
        )
    uvicorn.run(
        "gateway_http.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=None if args.reload else (args.workers or settings.workers),
        reload=args.reload,
        loop="auto",
        http="auto",
        log_level=settings.log_level,
        access_log=False,
        proxy_headers=True,
        server_header=False,
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="bind address (LLM_GATEWAY_HOST, default 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port (LLM_GATEWAY_PORT, default 8080)")
    serve.add_argument("--workers", type=int, help="worker processes (LLM_GATEWAY_WORKERS)")
    serve.add_argument("--reload", action="store_true", help="restart on code changes (dev)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        return _serve(args, settings)
    return 2


if __name__ == "__main__":
    sys.exit(main())
