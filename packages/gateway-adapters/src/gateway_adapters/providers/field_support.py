"""Which Chat Completions request fields each non-OpenAI wire format forwards, maps, ignores
or cannot serve: data, read by the adapters and rendered into docs/API.md (a test checks the
doc against this table).

OpenAI-format providers (Azure OpenAI included) receive every field as the client sent it,
so they have no table. The test provider (``echo``) has one too: it cannot honour what would
shape a model's answer.
For the others, a field the client sent that the gateway does not model (``ChatRequest.extra``)
is looked up here: *forwarded* and *mapped* fields are translated by the adapter's wire module;
*ignored* fields do not change the answer and are left out; anything else, listed as not
supported or never heard of, is refused with 400 ``unsupported_parameter`` naming the field
and the provider, unless the request says ``"drop_params": true``: then it is left out and
named in the answer's ``x_gateway.dropped_params``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gateway_core.errors import UnsupportedParameterError

NOT_SUPPORTED = "not supported"
IGNORED = "ignored (does not change the answer)"

_ANSWER_CHANGING_OPENAI_ONLY = (
    "logprobs",
    "top_logprobs",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "prediction",
    "modalities",
    "audio",
    "verbosity",
    "web_search_options",
    "functions",
    "function_call",
)
_BOOKKEEPING = ("store", "safety_identifier", "prompt_cache_key", "service_tier")

ANTHROPIC: Mapping[str, str] = {
    "max_completion_tokens": "mapped to `max_tokens`",
    "reasoning_effort": (
        "mapped to `thinking` (`budget_tokens`: low 1024, medium 4096, high 16384; "
        "`max_tokens` raised above the budget when needed; none/minimal: no thinking)"
    ),
    "thinking": "forwarded as `thinking`",
    "top_k": "forwarded as `top_k`",
    **dict.fromkeys(_ANSWER_CHANGING_OPENAI_ONLY, NOT_SUPPORTED),
    **dict.fromkeys(_BOOKKEEPING, IGNORED),
}

OLLAMA: Mapping[str, str] = {
    "max_completion_tokens": "mapped to `options.num_predict`",
    "top_k": "mapped to `options.top_k`",
    "frequency_penalty": "mapped to `options.frequency_penalty`",
    "presence_penalty": "mapped to `options.presence_penalty`",
    "reasoning_effort": "mapped to `think` (none: false; low, medium, high: as given)",
    **{
        name: NOT_SUPPORTED
        for name in _ANSWER_CHANGING_OPENAI_ONLY
        if name not in ("frequency_penalty", "presence_penalty")
    },
    **dict.fromkeys(_BOOKKEEPING, IGNORED),
}

ECHO: Mapping[str, str] = {
    # The test provider repeats the last user message: it honours the output limit (the
    # echo is cut) and nothing else that would shape a model's answer.
    "max_completion_tokens": "honoured (the echo is cut to it, as to `max_tokens`)",
    **dict.fromkeys((*_ANSWER_CHANGING_OPENAI_ONLY, "reasoning_effort", "thinking", "top_k"),
                    NOT_SUPPORTED),
    **dict.fromkeys(_BOOKKEEPING, IGNORED),
}  # fmt: skip

GEMINI: Mapping[str, str] = {
    "max_completion_tokens": "mapped to `generationConfig.maxOutputTokens`",
    "reasoning_effort": (
        "mapped to `generationConfig.thinkingConfig` (`thinkingBudget`: none 0, minimal 512, "
        "low 1024, medium 8192, high 24576; `includeThoughts: true` unless none; Gemini 3 "
        "models: `thinkingLevel` as given, none refused)"
    ),
    "thinking": (
        "mapped to `generationConfig.thinkingConfig` (Anthropic's shape: enabled "
        "`budget_tokens` -> `thinkingBudget` with `includeThoughts: true`; disabled -> "
        "`thinkingBudget: 0`)"
    ),
    "top_k": "mapped to `generationConfig.topK`",
    "frequency_penalty": "mapped to `generationConfig.frequencyPenalty`",
    "presence_penalty": "mapped to `generationConfig.presencePenalty`",
    **{
        name: NOT_SUPPORTED
        for name in _ANSWER_CHANGING_OPENAI_ONLY
        if name not in ("frequency_penalty", "presence_penalty")
    },
    **dict.fromkeys(_BOOKKEEPING, IGNORED),
}
"""Gemini API and Vertex AI (Gemini models; Claude on Vertex follows ``ANTHROPIC``)."""

BEDROCK: Mapping[str, str] = {
    "max_completion_tokens": "mapped to `inferenceConfig.maxTokens`",
    "reasoning_effort": (
        "Claude models: mapped to `additionalModelRequestFields.thinking` (as for anthropic); "
        "other models: 400"
    ),
    "thinking": (
        "Claude models: forwarded as `additionalModelRequestFields.thinking`; other models: 400"
    ),
    **dict.fromkeys(("top_k", *_ANSWER_CHANGING_OPENAI_ONLY), NOT_SUPPORTED),
    **dict.fromkeys(_BOOKKEEPING, IGNORED),
}
"""Amazon Bedrock's Converse (every model family)."""

TABLES: Mapping[str, Mapping[str, str]] = {
    "anthropic": ANTHROPIC,
    "ollama": OLLAMA,
    "gemini, vertex_ai": GEMINI,
    "bedrock": BEDROCK,
    "echo": ECHO,
}
"""Provider type -> field -> what happens to it."""


def servable_extras(
    extra: Mapping[str, Any], table: Mapping[str, str], *, provider: str, drop: bool
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The extras the adapter translates, and the names dropped (``drop``) or refused.

    Raises ``UnsupportedParameterError`` for the first field that cannot be served, unless
    ``drop``. Ignored fields are left out without being reported: the table documents them.
    """
    served: dict[str, Any] = {}
    dropped: list[str] = []
    for name, value in extra.items():
        rule = table.get(name, NOT_SUPPORTED)
        if rule == IGNORED:
            continue
        if rule != NOT_SUPPORTED:
            served[name] = value
        elif drop:
            dropped.append(name)
        else:
            raise UnsupportedParameterError(
                f"'{name}' is not supported by provider '{provider}'; send "
                '"drop_params": true to leave unsupported fields out.',
                param=name,
            )
    return served, tuple(dropped)


def markdown_table(fields: Iterable[str] | None = None) -> str:
    """The table docs/API.md shows, one row per field, one column per provider type."""
    names = sorted(fields or {name for table in TABLES.values() for name in table})
    lines = [
        "| field | " + " | ".join(TABLES) + " |",
        "|---|" + "---|" * len(TABLES),
    ]
    for name in names:
        cells = [table.get(name, NOT_SUPPORTED) for table in TABLES.values()]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)
