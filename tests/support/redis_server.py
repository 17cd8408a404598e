"""A ``redis-server`` of the test's own, on a free port, to stop and start again at will
(the shared Redis on 6379 is never touched by outage tests)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import redis

from tests.support.gateway import free_port

STARTUP_SECONDS = 10.0


class RedisServer:
    """Without persistence; ``start`` again after ``stop`` comes back on the same port."""

    def __init__(self, directory: Path, extra_args: Sequence[str] = ()) -> None:
        self.port = free_port()
        self._extra_args = tuple(extra_args)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--daemonize", "no",
                   "--dir", str(self._directory), *self._extra_args]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with redis.Redis(port=self.port, socket_timeout=0.5) as client:
                    client.ping()
                    return self
            except redis.ConnectionError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections (the kernel's backlog) and nothing
        answers: what a Redis stuck in a long command or a lost network path looks like."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)  # a stopped process ignores SIGTERM
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None
