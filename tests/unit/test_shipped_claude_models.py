"""The shipped configuration never sends a client who asked for "the default Claude model" to a
model Anthropic has scheduled for retirement.

Anthropic's SDK carries the list (``anthropic._data.DEPRECATED_MODELS``: model -> end-of-life
date), so a lock update that brings a newer SDK fails this test the day a default starts its
way out, not the day Anthropic starts answering 404. Names that consumers send themselves
(``claude-sonnet-4-5-20250929``) stay listed: they reach Anthropic as sent, and its 404 reaches
the client as a 400 naming the model.
"""

from __future__ import annotations

import json
from pathlib import Path

from anthropic._data import DEPRECATED_MODELS

REPO = Path(__file__).resolve().parents[2]
PROVIDERS = json.loads((REPO / "config" / "providers.json").read_text("utf-8"))


def _anthropic_model(name: str) -> str | None:
    """The Anthropic model id a shipped name reaches first, or ``None`` when it is not Claude."""
    seen: set[str] = set()
    while name in PROVIDERS["aliases"] and name not in seen:
        seen.add(name)
        name = PROVIDERS["aliases"][name]
    entry = PROVIDERS["models"].get(name)
    if entry is not None:
        return entry.get("model", name) if entry["provider"] == "anthropic" else None
    return name if name.startswith("claude-") else None


def _defaults() -> dict[str, str]:
    """Where the gateway chooses the Claude model, not the client: aliases and fallbacks."""
    chosen = {f"alias {alias}": target for alias, target in PROVIDERS["aliases"].items()}
    for name, entry in PROVIDERS["models"].items():
        for fallback in entry.get("fallbacks", []):
            chosen[f"fallback of {name}"] = fallback
    return chosen


def test_the_default_claude_models_are_not_on_their_way_out() -> None:
    retiring = {
        where: f"{model} (end of life {DEPRECATED_MODELS[model]})"
        for where, name in _defaults().items()
        if (model := _anthropic_model(name)) is not None and model in DEPRECATED_MODELS
    }
    assert retiring == {}


def test_the_claude_aliases_reach_a_claude_model() -> None:
    assert _anthropic_model("claude") == "claude-sonnet-4-6"
    assert _anthropic_model("anthropic") == "claude-sonnet-4-6"
    assert "claude-sonnet-4-5-20250929" in DEPRECATED_MODELS  # what the test guards against
