"""Scrubbing credentials out of text that may reach a client or a log line.

Upstream error messages are forwarded to clients (they need them to fix a request), and
vendors sometimes quote the request back, ``Authorization`` header included. Everything
shaped like a credential is replaced with ``[REDACTED]`` before such text leaves: bearer
tokens, OpenAI/Anthropic-style ``sk-`` keys, ``x-api-key``/``api_key`` values and AWS access
key ids and secrets. Pure functions on strings; the patterns are compiled once.
"""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"

# Each pattern keeps its label (group 1, when there is one) and replaces only the value.
_LABELLED = re.compile(
    r"""(?ix)
    (   bearer\s+
      | basic\s+
      | (?:x-api-key|api[_-]?key|access[_-]?token|secret[_-]?access[_-]?key
           |aws[_-]?secret[_-]?access[_-]?key|authorization|password)
        ["']?\s*[:=]\s*["']?(?!(?:bearer|basic)\s)
    )
    (?!\[REDACTED\])[^\s"',;}]{4,}
    """
)
_BARE = re.compile(
    r"""(?x)
      \bsk-[A-Za-z0-9_\-]{8,}                  # OpenAI (sk-, sk-proj-) and Anthropic (sk-ant-)
    | \b(?:AKIA|ASIA)[0-9A-Z]{16}\b            # AWS access key ids
    | \bAIza[0-9A-Za-z_\-]{30,}                 # Google API keys
    | \beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}  # a JWT (OAuth tokens)
    """
)


def scrub_secrets(text: str, known: tuple[str, ...] = ()) -> str:
    """``text`` with every credential-shaped substring, and each of ``known``, redacted."""
    for secret in known:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    if not _might_hold_secret(text):
        return text
    text = _LABELLED.sub(lambda match: match.group(1) + REDACTED, text)
    return _BARE.sub(REDACTED, text)


def _might_hold_secret(text: str) -> bool:
    """A cheap screen so that ordinary messages skip both regular expressions."""
    lowered = text.lower()
    return any(hint in lowered for hint in _HINTS)


_HINTS = ("bearer", "basic", "sk-", "key", "token", "akia", "asia", "aiza", "secret",
          "authorization", "password", "eyj")
