"""Scrubbing secrets out of text that came from outside: upstream error messages above all.

A provider's error message is written by the provider, and some quote what they were sent
("Invalid header: Authorization: Bearer sk-..."), so a message passed on verbatim can hand
our provider key to a client. Every upstream message is scrubbed before it becomes a domain
error (``providers.http_errors.status_error``), and every error message is scrubbed again
before it reaches a client (``gateway_http.errors``), whatever raised it.

What is scrubbed: bearer and basic credentials, values of key-like fields and headers, and
the shapes of the keys vendors issue (OpenAI/Anthropic ``sk-...``, AWS access key ids, Google
API keys, JWTs). ``scrub`` is cheap when there is nothing to scrub: a few substring checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"

_PATTERNS = (
    # Authorization: Bearer <token> / Basic <credentials>
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{4,}"),
    # "api_key": "...", api-key=..., x-api-key: ..., token=..., secret: ...
    re.compile(
        r"(?i)\b((?:x-)?api[-_]?key|access[-_]?token|secret(?:[-_]access[-_]key)?|password)"
        r"(\\?[\"']?\s*[:=]\s*\\?[\"']?)[^\s\"',;&)]+"
    ),
    # OpenAI, Anthropic and gateway client keys (sk-..., sk-ant-..., sk-proj-..., sk-gw-...)
    re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?<![A-Za-z0-9])AKIA[0-9A-Z]{16}(?![A-Za-z0-9])"),  # AWS access key id
    re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{30,}"),  # Google API key
    re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),  # a JWT
)
_TRIGGERS = ("bearer", "basic", "key", "token", "secret", "password", "sk-", "akia", "aiza",
             "eyj")  # fmt: skip
"""Lower-case substrings without which no pattern can match: most texts skip the regexes."""


def _replace(match: re.Match[str]) -> str:
    groups = match.groups()
    if len(groups) == 2 and groups[1] is not None:  # a named field: keep its name
        return f"{groups[0]}{groups[1]}{REDACTED}"
    if len(groups) == 1:  # bearer / basic: keep the scheme
        return f"{groups[0]} {REDACTED}"
    return REDACTED


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret and every key-shaped string replaced."""
    for secret in secrets:
        if secret and len(secret) >= 8 and secret in text:
            text = text.replace(secret, REDACTED)
    lowered = text.lower()
    if not any(trigger in lowered for trigger in _TRIGGERS):
        return text
    for pattern in _PATTERNS:
        text = pattern.sub(_replace, text)
    return text
