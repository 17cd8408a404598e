"""Instructions per request of the gateway's request path, counted by valgrind (callgrind).

CPU time per request (``bench.profile_path``) moves by 10% and more between runs on a shared
machine: on one of this project's machines a fixed Python loop took 1.7 to 2.4 s from one
minute to the next. Instructions move much less: with the controls off, the same code gives
the same count within about 0.5% (openai-json 1,211k-1,218k), so a 1% change to the request
path is visible in one run of each side. With the controls on, the gateway's clock-driven
work (below) follows the machine's speed, and realistic-json read 1,888k-2,007k at one
commit: run each side several times there. Instructions are not time (a cache miss costs
more than an add), so this is for A/B comparisons of one change, not for published figures:

    uv run python -m bench.instructions --scenario realistic-json
    uv run python -m bench.instructions --scenario openai-stream --requests 500
    uv run python -m bench.instructions --scenario openai-stream --pace-chunks 2 --requests 100

``--pace-chunks N`` paces the mock's streams (a chunk every ``--pace-interval-ms``, each its
own write, then the end in one write, as ``bench.profile_slow``'s mock does): each of a slow
stream's chunks is then a read of its own. Two runs with different ``N`` split a slow stream's
count into what each chunk costs and what the stream costs once (its start and end).

One gateway process runs under ``valgrind --tool=callgrind`` with counting off; after
``--warmup`` sequential requests counting is turned on for ``--requests`` more, then the
counts are dumped and the total divided. The requests go one at a time with a short pause,
as the paced probe sends them. Work the gateway does by the clock (lease renewals, usage
flushes, the paced collector) runs about fifty times as often per request under valgrind as
at full speed, so controls-on counts run high; compare like with like. Needs ``valgrind``
(Debian's package); about 25 s a scenario.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench import payloads, processes, runner
from bench.scenarios import BY_NAME, gateway_env

HOST = "127.0.0.1"
_START_TIMEOUT_S = 300.0
"""The gateway imports its modules under valgrind, tens of times slower than without."""
_PAUSE_S = 0.002


def counted_total(dump: Path) -> int:
    """The instructions counted in one callgrind dump: its ``totals:`` line (written last),
    else its ``summary:`` (a header line, which a dump may leave at 0)."""
    found: dict[str, int] = {}
    for line in dump.read_text("utf-8", errors="replace").splitlines():
        name, _, value = line.partition(":")
        if name in ("totals", "summary") and value.split():
            found[name] = int(value.split()[0])
    if not found:
        raise ValueError(f"{dump} holds no totals: not a callgrind dump")
    return found.get("totals", found.get("summary", 0))


def dumps_total(folder: Path) -> int:
    """Everything counted in the dumps of ``folder`` (one gateway process: its parts)."""
    return sum(counted_total(dump) for dump in folder.glob("callgrind.*"))


def _wait_healthy(child: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=60)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        if child.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the gateway did not start under valgrind; see {log}")
        time.sleep(1)


@contextlib.contextmanager
def _counted_gateway(env: dict[str, str], out: Path) -> Iterator[tuple[int, int]]:
    """The gateway under callgrind, counting off: its port and pid."""
    port = processes.free_port()
    command = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no",
        f"--callgrind-out-file={out}/callgrind.%p",
        sys.executable, "-m", "gateway_http.cli", "serve", "--host", HOST, "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    log = out / "gateway.log"
    with log.open("wb") as sink:
        child = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(child, port, log)
        yield port, child.pid
    finally:
        child.terminate()
        try:
            child.wait(60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _callgrind(pid: int, *arguments: str) -> None:
    subprocess.run(["callgrind_control", *arguments, str(pid)], check=True, capture_output=True)


def count(
    scenario_name: str, requests: int, warmup: int, pace: tuple[int, float] | None = None
) -> float:
    """Instructions per request of ``scenario_name``'s request, one at a time; ``pace``:
    the mock's streams paced, (chunks, milliseconds between two)."""
    scenario = BY_NAME[scenario_name]
    if scenario.target != "gateway":
        raise SystemExit(f"{scenario_name} does not run the gateway")
    out = Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    options = runner.Options(
        duration_s=1, warmup_s=0, connections=1, rate=100, paced_count=1,
        gateway_cores=(0,), load_core=1, log_dir=out,
    )  # fmt: skip
    headers = {"content-type": "application/json"}
    if scenario.authorization is not None:
        headers["authorization"] = scenario.authorization
    body = payloads.openai_body(scenario.model, scenario.stream)
    paced = () if pace is None else (
        "--pace-chunks", str(pace[0]), "--pace-interval-ms", str(pace[1]),
        "--pace-first-token-ms", str(pace[1]),
    )  # fmt: skip
    mock_upstream = runner.mock_upstream(options, paced)
    with processes.pinned_redis(options.load_core, out), mock_upstream as mock:
        env = {**gateway_env(scenario, mock), "PYTHONHASHSEED": "0"}
        with _counted_gateway(env, out) as (port, pid):
            connection = http.client.HTTPConnection(HOST, port, timeout=120)

            def send(n: int) -> None:
                for _ in range(n):
                    connection.request("POST", scenario.path, body, headers)
                    answer = connection.getresponse()
                    data = answer.read()
                    if answer.status != 200:
                        raise RuntimeError(f"{answer.status}: {data[:300]!r}")
                    time.sleep(_PAUSE_S)

            send(warmup)
            _callgrind(pid, "--instr=on")
            send(requests)
            _callgrind(pid, "--instr=off")
            _callgrind(pid, "--dump")
    return dumps_total(out) / requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="openai-json")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=150)
    parser.add_argument("--pace-chunks", type=int, default=0,
                        help="pace the mock's streams: this many chunks, each a read (0: not)")
    parser.add_argument("--pace-interval-ms", type=float, default=20.0)
    args = parser.parse_args(argv)
    if args.pace_chunks and not BY_NAME[args.scenario].stream:
        parser.error("--pace-chunks paces streams: choose a stream scenario")
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    pace = (args.pace_chunks, args.pace_interval_ms) if args.pace_chunks else None
    per_request = count(args.scenario, args.requests, args.warmup, pace)
    paced = f", {args.pace_chunks} paced chunks" if pace else ""
    print(f"{args.scenario}: {per_request / 1000:,.1f}k instructions a request "
          f"({args.requests} requests after {args.warmup}{paced})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
