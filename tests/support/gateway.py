"""Run the real gateway (``llm-gateway serve``, uvicorn) in a subprocess on a free port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GatewayProcess:
    """``with GatewayProcess(env) as gateway: gateway.url``. Output goes to ``log_path``."""

    def __init__(self, env: Mapping[str, str] | None = None, *, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("LLM_GATEWAY_") or key.startswith("LLM_GATEWAY_TEST_")
        }
        self._env.update(env or {})
        self._workers = workers
        self._process: subprocess.Popen[bytes] | None = None
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"llm-gateway-{self.port}.log"

    def start(self) -> GatewayProcess:
        command = [
            sys.executable, "-m", "gateway_http.cli", "serve",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self._workers),
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=self._env, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"gateway exited at start-up:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gateway did not become healthy:\n{self.logs()}")

    def logs(self) -> str:
        """The lines the gateway has written so far, whole ones only: its log writer may be in
        the middle of a line (a large batch reaches the file in pieces) while a test reads."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[: text.rfind("\n") + 1]

    def request_lines(self) -> list[dict]:
        """The request log lines written so far (``"message": "request"``), parsed."""
        lines = []
        for line in self.logs().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("message") == "request":
                lines.append(entry)
        return lines

    def send_signal(self, signum: int) -> None:
        """Signal the gateway's process (with one worker, the process serving requests)."""
        assert self._process is not None, "the gateway is not running"
        self._process.send_signal(signum)

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
