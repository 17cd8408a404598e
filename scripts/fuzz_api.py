"""Run the schema-driven fuzzer (schemathesis) over ``/openapi.json`` of a real gateway.

``uv run python scripts/fuzz_api.py [--max-examples N] [--seed S]``: starts the gateway on a
free port and fuzzes every operation with the checks that matter for a contract (no server
error, only documented statuses and content types, answers that match their schemas), twice:
on its shipped configuration (echo provider, in-memory stores, no authentication), then with
authentication on, as an admin key, so that the admin routes answer for real instead of
refusing every call. Exits non-zero on any failure. CI runs it with a fixed seed so that a red
run can be replayed; leave ``--seed`` out to explore.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.gateway_controls import client_key, keys_env  # noqa: E402
from tests.support.gateway import GatewayProcess  # noqa: E402

CHECKS = ",".join((
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_schema_conformance", "response_headers_conformance",
    # What breaks the schema is refused (what it allows may still be refused by a rule it
    # cannot state: a model that does not exist, a forbidden field, a date range).
    "negative_data_rejection",
    # The methods a path answers: OPTIONS's ``Allow`` and 405 for the others.
    "allow_header_conformance", "unsupported_method",
    # Resources: what was created can be read; what was deleted is gone.
    "ensure_resource_availability", "use_after_free",
    # Authentication: with it on, a call without the key or a required header is refused.
    "ignored_auth", "missing_required_header",
))


_ADMIN = client_key("fuzz-admin", admin=True)
"""A fresh admin key for the throwaway gateway of the second pass."""

PASSES = (
    ("the shipped configuration", {}, []),
    ("authentication on, as an admin key", keys_env(_ADMIN),
     ["--header", f"Authorization: Bearer {_ADMIN.secret}"]),
)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-examples", type=int, default=40)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--checks", default=CHECKS,
                        help="schemathesis checks, comma-separated ('all' to explore)")
    args = parser.parse_args()
    failed = 0
    for name, env, extra in PASSES:
        print(f"== {name}", flush=True)
        with GatewayProcess(env) as gateway:
            command = [
                sys.executable, "-m", "schemathesis.cli", "run", f"{gateway.url}/openapi.json",
                "--checks", args.checks, "--max-examples", str(args.max_examples),
                # One worker: schemathesis' threads tripped a CPython 3.11 AST bug here.
                "--workers", "1", "--no-color", *extra,
            ]  # fmt: skip
            if args.seed is not None:
                command += ["--seed", str(args.seed)]
            done = subprocess.run(command, cwd=REPO, check=False)
            if done.returncode != 0:
                print(f"{name}: gateway log: {gateway.log_path}", file=sys.stderr)
                failed = failed or done.returncode
    return failed


if __name__ == "__main__":
    sys.exit(main())
