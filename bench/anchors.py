"""The anchors: Portkey's gateway and LiteLLM's proxy, installed pinned and run as targets.

Absolute requests/s do not travel between machines; ratios measured in the same run do. So the
benchmark installs the two gateways people compare us with and runs them on the same mock,
the same pinning and the same load as ours:

- **Portkey** (npm ``@portkey-ai/gateway``, Node.js): the published package ships a bundle
  and leaves its dependencies to semver ranges, so they are pinned here (npm ``overrides``)
  to the versions Portkey's own ``package-lock.json`` resolves at the same release.
- **LiteLLM** (PyPI ``litellm[proxy]``) in a virtual environment of its own, so its many
  dependencies never touch the workspace's.

Both install into ``bench/.anchors/`` (not committed) once; later runs reuse them. Where one
cannot be installed (no ``npm``, no registry), ``AnchorUnavailable`` says why and the run
reports the rest without it: nothing is ever filled in by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.scenarios import BENCH_DIR, UPSTREAM_KEY

ANCHOR_DIR = Path(os.environ.get("BENCH_ANCHOR_DIR", BENCH_DIR / ".anchors"))

PORTKEY_VERSION = "1.15.2"
PORTKEY_LOCKED_DEPENDENCIES = {
    # From the package-lock.json of Portkey-AI/gateway at the commit that published 1.15.2.
    "@aws-crypto/sha256-js": "5.2.0",
    "@cfworker/json-schema": "4.0.3",
    "@hono/node-server": "1.13.5",
    "@hono/node-ws": "1.2.0",
    "@portkey-ai/mustache": "2.1.3",
    "@smithy/signature-v4": "2.1.1",
    "@types/mustache": "4.2.5",
    "async-retry": "1.3.3",
    "avsc": "5.7.7",
    "hono": "4.9.7",
    "ioredis": "5.8.0",
    "jose": "6.0.11",
    "patch-package": "8.0.1",
    "ws": "8.18.3",
    "zod": "3.25.76",
}
LITELLM_VERSION = "1.108.7"
LITELLM_MASTER_KEY = "sk-litellm-bench-000000000000000000000000000000000000000000000"
"""Not a secret: it only opens the local proxy; LiteLLM refuses to start without one."""

ANCHORS = ("portkey", "litellm")
ANCHOR_MODEL = "bench-openai"
"""The model name every anchor serves: LiteLLM's config maps it; Portkey forwards it as is."""


class AnchorUnavailable(Exception):
    """An anchor could not be installed or started here; the message says why."""


@dataclass(frozen=True, slots=True)
class Launch:
    """How to start one target and what each request to it must carry."""

    command: list[str]
    env: Mapping[str, str]
    request_headers: Mapping[str, str] = field(default_factory=dict)
    version: str = ""


def _run(command: list[str], cwd: Path | None = None, timeout: float = 600) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=timeout)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-800:]
        raise AnchorUnavailable(f"`{' '.join(command)}` failed: {tail}")


# ---------------------------------------------------------------- Portkey


def _portkey_dir() -> Path:
    return ANCHOR_DIR / f"portkey-{PORTKEY_VERSION}"


def install_portkey() -> Path:
    """The pinned Portkey gateway's server script; installed with npm on first use."""
    folder = _portkey_dir()
    script = folder / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    if script.exists():
        return script
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise AnchorUnavailable("Portkey needs Node.js and npm, and they are not on PATH")
    folder.mkdir(parents=True, exist_ok=True)
    package = {
        "name": "llm-gateway-bench-portkey",
        "private": True,
        "dependencies": {"@portkey-ai/gateway": PORTKEY_VERSION},
        "overrides": PORTKEY_LOCKED_DEPENDENCIES,
    }
    (folder / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    # --ignore-scripts: its postinstall runs patch-package on patches the npm package does
    # not ship (they patch a dev dependency's types), so it would only fail.
    _run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=folder)
    if not script.exists():
        raise AnchorUnavailable(f"npm installed @portkey-ai/gateway without {script.name}")
    return script


def portkey_launch(port: int, mock_port: int) -> Launch:
    script = install_portkey()
    node = shutil.which("node") or "node"
    return Launch(
        command=[node, str(script), f"--port={port}", "--headless"],
        env={**os.environ, "NODE_ENV": "production"},
        request_headers={
            # Portkey's way to reach any OpenAI-compatible server: the provider and its host.
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"http://127.0.0.1:{mock_port}/v1",
            "Authorization": f"Bearer {UPSTREAM_KEY}",
        },
        version=f"@portkey-ai/gateway {PORTKEY_VERSION} (Node.js {_node_version()})",
    )


def _node_version() -> str:
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


# ---------------------------------------------------------------- LiteLLM


def _litellm_dir() -> Path:
    return ANCHOR_DIR / f"litellm-{LITELLM_VERSION}"


def install_litellm() -> Path:
    """The pinned LiteLLM proxy's executable, in a virtual environment of its own."""
    venv = _litellm_dir()
    executable = venv / "bin" / "litellm"
    if executable.exists():
        return executable
    uv = shutil.which("uv")
    spec = f"litellm[proxy]=={LITELLM_VERSION}"
    if uv is not None:
        _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
        _run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), spec])
    else:
        _run([sys.executable, "-m", "venv", str(venv)])
        _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", spec])
    if not executable.exists():
        raise AnchorUnavailable(f"{spec} installed no `litellm` executable")
    return executable


def litellm_launch(port: int, mock_port: int, workdir: Path) -> Launch:
    executable = install_litellm()
    config = workdir / f"litellm-{port}.yaml"
    # JSON is YAML: no YAML writer needed.
    config.write_text(json.dumps({
        "model_list": [{
            "model_name": ANCHOR_MODEL,
            "litellm_params": {
                "model": "openai/bench-model",
                "api_base": f"http://127.0.0.1:{mock_port}/v1",
                "api_key": UPSTREAM_KEY,
            },
        }],
    }))
    env = {
        **os.environ,
        # No network here: use the cost map the package ships instead of fetching one.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "LITELLM_MASTER_KEY": LITELLM_MASTER_KEY,
    }
    return Launch(
        command=[str(executable), "--config", str(config), "--host", "127.0.0.1",
                 "--port", str(port), "--num_workers", "1"],
        env=env,
        request_headers={"Authorization": f"Bearer {LITELLM_MASTER_KEY}"},
        version=f"litellm[proxy] {LITELLM_VERSION}",
    )


def launch(target: str, port: int, mock_port: int, workdir: Path) -> Launch:
    if target == "portkey":
        return portkey_launch(port, mock_port)
    if target == "litellm":
        return litellm_launch(port, mock_port, workdir)
    raise ValueError(f"not an anchor: {target}")
