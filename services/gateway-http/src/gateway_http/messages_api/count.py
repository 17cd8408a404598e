"""An estimate of a Messages request's input tokens, for models Anthropic does not serve.

About four characters a token over the JSON text of the system prompt, the messages and the
tools, as the rate limiter estimates: only Anthropic can count exactly for its models, and
other vendors' tokenizers differ, so the answer is labelled an estimate (see the route).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec

_encode = msgspec.json.Encoder().encode


def estimate_input_tokens(body: Mapping[str, Any]) -> int:
    counted = {key: body.get(key) for key in ("system", "messages", "tools") if body.get(key)}
    return max(1, math.ceil(len(_encode(counted)) / 4))
