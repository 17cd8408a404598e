"""Child processes pinned to cores, and their CPU time and memory read from /proc.

Every child starts in its own session (process group) so that ``stop`` ends it together with
whatever it forked (uvicorn's workers); the harness calls ``stop`` in ``finally`` blocks, so a
failed or interrupted run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class StartError(Exception):
    """A child process did not come up; the message holds the end of its log."""


@dataclass(frozen=True, slots=True)
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def start(
    name: str, command: Sequence[str], cores: Sequence[int], env: Mapping[str, str], log_dir: Path
) -> Child:
    """Start ``command`` under ``taskset`` on ``cores``, output to ``<log_dir>/<name>.log``."""
    log_path = log_dir / f"{name}.log"
    pinned = ["taskset", "-c", ",".join(map(str, cores)), *command]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            pinned, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(env), start_new_session=True,
        )
    return Child(name, process, log_path)


def stop(child: Child, grace_s: float = 5.0) -> None:
    """SIGTERM the child's process group, then SIGKILL whatever is left after ``grace_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            break
        try:
            child.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            continue
        _kill_group_leftovers(child.pid)
        break


def _kill_group_leftovers(group: int) -> None:
    """Workers that outlived their parent would keep the group alive: end them too."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(child: Child, port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            code = child.process.returncode
            raise StartError(f"{child.name} exited ({code}):\n{child.log_tail()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise StartError(f"{child.name} did not listen on {port} in {timeout_s} s:\n{child.log_tail()}")


REDIS_URL_ENV = "BENCH_REDIS_URL"


@contextlib.contextmanager
def pinned_redis(core: int, log_dir: Path) -> Iterator[str]:
    """The Redis the controls-on scenarios use: a ``redis-server`` of the run's own, pinned to
    ``core`` (the load's, with the mock: like the upstream, an outside service, kept off the
    target's core), exported as ``BENCH_REDIS_URL`` meanwhile. A Redis left to float took
    the gateway's core at times: at 1,000 slow streams with the controls on, CPU per chunk
    went 52.9 -> 45.1 us and chunk p99 6.6 -> 2.5 ms once the shared Redis was pinned.
    Yields what it uses: the caller's ``BENCH_REDIS_URL`` if set, else the run's own, else
    (no ``redis-server`` here) the shared one on 6379, unpinned."""
    given = os.environ.get(REDIS_URL_ENV)
    if given or shutil.which("redis-server") is None:
        yield given or "redis://127.0.0.1:6379/14 (shared, not pinned)"
        return
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(log_dir)]  # fmt: skip
    child = start("redis", command, [core], os.environ, log_dir)
    try:
        wait_for_port(child, port)
        os.environ[REDIS_URL_ENV] = url = f"redis://127.0.0.1:{port}/0"
        yield url
    finally:
        os.environ.pop(REDIS_URL_ENV, None)
        stop(child)


# ---------------------------------------------------------------- /proc


def _parent_map() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _read_stat(int(entry.name))
            if stat is not None:
                parents[int(entry.name)] = int(stat[1])
    return parents


def _read_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    parents = _parent_map()
    tree, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def cpu_seconds(pids: Sequence[int]) -> float:
    """User plus system CPU time of ``pids`` (fields utime and stime of /proc/<pid>/stat)."""
    ticks = 0
    for pid in pids:
        stat = _read_stat(pid)
        if stat is not None:
            ticks += int(stat[11]) + int(stat[12])
    return ticks / _CLOCK_TICKS


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_mb(pids: Sequence[int]) -> dict[str, float]:
    """Peak resident memory (VmHWM): the largest single process, and the sum."""
    peaks = [_status_kb(pid, "VmHWM:") for pid in pids]
    return {"max_process": max(peaks, default=0) / 1024, "total": sum(peaks) / 1024}


def rss_mb(pids: Sequence[int]) -> float:
    """Current resident memory of ``pids`` together."""
    return sum(_status_kb(pid, "VmRSS:") for pid in pids) / 1024


def compile_bytecode() -> None:
    """The gateway's modules compiled to bytecode before any gateway starts, as the Docker
    image ships them (``UV_COMPILE_BYTECODE=1``). Without it, where ``PYTHONDONTWRITEBYTECODE``
    is set (as on the project's machines), every gateway process compiles each module it
    imports: slower to start, and the compiler's memory stays in its peak RSS (6-9 MB)."""
    root = Path(__file__).resolve().parent.parent
    sources = [str(path) for path in (*root.glob("packages/*/src"), *root.glob("services/*/src"))]
    site = sysconfig.get_paths()["purelib"]
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", site, *sources],
                   check=False, stdout=subprocess.DEVNULL)  # fmt: skip
