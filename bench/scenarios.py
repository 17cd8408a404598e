"""What one run measures: the mock alone ("direct") and the gateway in each configuration."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bench import payloads

BENCH_DIR = Path(__file__).resolve().parent
PROVIDERS_CONFIG = BENCH_DIR / "providers.json"
PRICING_CONFIG = BENCH_DIR / "pricing.json"

UPSTREAM_KEY = "bench-upstream-key"
"""What the gateway sends the mock as its provider key; the mock ignores it."""
CLIENT_KEY = "sk-gw-bench-0000000000000000000000000000000000000000000"
"""The realistic scenario's client key: not a secret, it only opens the local bench gateway."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    target: Literal["direct", "gateway", "portkey", "litellm"]
    """``portkey`` and ``litellm`` are the anchors (bench/anchors.py), run like the gateway."""
    wire: Literal["openai", "anthropic", "responses"]
    """The format spoken to the target: the upstreams' own, or one of the gateway's doors
    (Chat Completions, Anthropic Messages, OpenAI Responses)."""
    model: str
    stream: bool
    workers: int = 1
    controls: bool = False
    """Auth, Redis rate limits, cost tracking and request logging on (the realistic setup)."""
    baseline: str | None = None
    """The direct scenario that the added latency is measured against."""
    quick: bool = False

    @property
    def is_anchor(self) -> bool:
        return self.target in ("portkey", "litellm")

    @property
    def reaches_upstream(self) -> bool:
        return self.model != "echo"

    @property
    def path(self) -> str:
        return _PATHS[self.wire]

    @property
    def body(self) -> bytes:
        return _BODIES[self.wire](self.model, self.stream)

    @property
    def authorization(self) -> str | None:
        return f"Bearer {CLIENT_KEY}" if self.controls else None


_PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages",
          "responses": "/v1/responses"}  # fmt: skip
_BODIES = {"openai": payloads.openai_body, "anthropic": payloads.anthropic_body,
           "responses": payloads.responses_body}  # fmt: skip


def _direct(wire: Literal["openai", "anthropic"], stream: bool, quick: bool = False) -> Scenario:
    kind = "stream" if stream else "json"
    return Scenario(
        f"direct-{wire}-{kind}", f"the mock alone, {wire} {kind}: the ceiling",
        "direct", wire, "bench-model", stream, quick=quick,
    )


def _gateway(name: str, description: str, model: str, stream: bool, door: str = "openai",
             **extra) -> Scenario:  # fmt: skip
    """``door``: the format the client speaks to the gateway (Chat Completions by default)."""
    wire = "anthropic" if model == "bench-anthropic" else "openai"
    baseline = f"direct-{wire}-{'stream' if stream else 'json'}"
    return Scenario(name, description, "gateway", door, model, stream,  # type: ignore[arg-type]
                    baseline=baseline, **extra)


def _anchor(target: Literal["portkey", "litellm"], stream: bool) -> Scenario:
    kind = "stream" if stream else "json"
    label = "Portkey's gateway" if target == "portkey" else "LiteLLM's proxy"
    return Scenario(
        f"{target}-{kind}", f"{label} -> mock, OpenAI format, no controls (an anchor)",
        target, "openai", "bench-openai", stream, baseline=f"direct-openai-{kind}",
    )


CATALOGUE: tuple[Scenario, ...] = (
    _direct("openai", False, quick=True),
    _direct("openai", True),
    _direct("anthropic", False),
    _direct("anthropic", True),
    _gateway("echo-json", "gateway, echo model (no upstream), 1 worker", "echo", False, quick=True),
    _gateway("echo-stream", "gateway, echo model (no upstream), 1 worker", "echo", True),
    _gateway("openai-json", "gateway -> mock, openai provider, 1 worker", "bench-openai", False,
             quick=True),
    _gateway("openai-stream", "gateway -> mock, openai provider, 1 worker", "bench-openai", True),
    _gateway("anthropic-json", "gateway -> mock, anthropic provider, 1 worker", "bench-anthropic",
             False),
    _gateway("anthropic-stream", "gateway -> mock, anthropic provider, 1 worker",
             "bench-anthropic", True),
    _gateway("realistic-json", "openai-json with every control on", "bench-openai", False,
             controls=True),
    _gateway("realistic-stream", "openai-stream with every control on", "bench-openai", True,
             controls=True),
    _gateway("workers2-json", "openai-json on 2 workers (all cores)", "bench-openai", False,
             workers=2),
    _anchor("portkey", False),
    _anchor("portkey", True),
    _anchor("litellm", False),
    _anchor("litellm", True),
    _gateway("responses-json", "/v1/responses translated to the openai provider", "bench-openai",
             False, door="responses"),
    _gateway("responses-stream", "/v1/responses translated to the openai provider",
             "bench-openai", True, door="responses"),
    _gateway("messages-native-json", "/v1/messages forwarded natively to the anthropic provider",
             "bench-anthropic", False, door="anthropic"),
    _gateway("messages-native-stream", "/v1/messages forwarded natively to the anthropic provider",
             "bench-anthropic", True, door="anthropic"),
    _gateway("messages-translated-json", "/v1/messages translated to the openai provider",
             "bench-openai", False, door="anthropic"),
    _gateway("messages-translated-stream", "/v1/messages translated to the openai provider",
             "bench-openai", True, door="anthropic"),
)
BY_NAME = {scenario.name: scenario for scenario in CATALOGUE}


def select(names: list[str] | None, quick: bool) -> list[Scenario]:
    """The scenarios to run, in catalogue order; the baselines of those chosen come along."""
    if not names:
        return [s for s in CATALOGUE if s.quick] if quick else list(CATALOGUE)
    unknown = sorted(set(names) - BY_NAME.keys())
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}; see --list")
    wanted = set(names) | {BY_NAME[n].baseline for n in names if BY_NAME[n].baseline}
    return [s for s in CATALOGUE if s.name in wanted]


# ------------------------------------------------------------------ the gateway's environment

# >>> REALISTIC-CONTROLS HOOK >>>
# The settings that switch on auth, Redis rate limiting, cost tracking and request logging.
# Names follow gateway_http/settings.py as it is being written; a setting the gateway does not
# read is ignored, and the harness notices the controls are off (a request without a key is
# still served) and reports the realistic scenarios as "pending" instead of publishing figures
# of the plain path. Adjust the names here if the final settings differ.
def realistic_controls_env() -> dict[str, str]:
    # Limits and a budget the bench never reaches: checked on every request, never refusing.
    key = {
        "id": "bench", "name": "Benchmark client",
        "sha256": hashlib.sha256(CLIENT_KEY.encode()).hexdigest(),
        "requests_per_minute": 100_000_000, "tokens_per_minute": 100_000_000_000,
        "monthly_budget_usd": 1_000_000_000.0,
    }
    return {
        "LLM_GATEWAY_AUTH_ENABLED": "true",
        "LLM_GATEWAY_API_KEYS": json.dumps([key]),
        "LLM_GATEWAY_REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "LLM_GATEWAY_RATE_LIMIT_REQUESTS_PER_MINUTE": "100000000",
        "LLM_GATEWAY_RATE_LIMIT_TOKENS_PER_MINUTE": "100000000000",
        "LLM_GATEWAY_PRICING_CONFIG": str(PRICING_CONFIG),
        "LLM_GATEWAY_LOG_LEVEL": "info",  # the request log line is an info record
    }
# <<< REALISTIC-CONTROLS HOOK <<<


def gateway_env(scenario: Scenario, mock_port: int) -> dict[str, str]:
    """The process environment: the caller's, minus any LLM_GATEWAY_* it had, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_GATEWAY_")}
    env.update({
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(PROVIDERS_CONFIG),
        "LLM_GATEWAY_PRICING_CONFIG": str(PRICING_CONFIG),
        "LLM_GATEWAY_LOG_LEVEL": "warning",
        "BENCH_OPENAI_BASE_URL": f"http://127.0.0.1:{mock_port}/v1",
        "BENCH_ANTHROPIC_BASE_URL": f"http://127.0.0.1:{mock_port}",
        "BENCH_UPSTREAM_API_KEY": UPSTREAM_KEY,
    })
    if scenario.controls:
        env.update(realistic_controls_env())
    return env
