"""Azure OpenAI failures -> ``gateway_core.errors``.

Azure answers in OpenAI's error shape (``{"error": {"code", "message", ...}}``, with ``code``
often the status as a string), so OpenAI's status table applies unchanged. One Azure case gets
its own words: a prompt its content filter refused (HTTP 400, ``code: "content_filter"``,
``innererror.content_filter_result`` naming the categories), which becomes a bad request that
says which categories were flagged
(https://learn.microsoft.com/azure/ai-services/openai/concepts/content-filter).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from gateway_adapters.providers.openai.errors import http_error as openai_http_error
from gateway_core.errors import ProviderError, UpstreamBadRequestError

CONTENT_FILTER = "content_filter"


def http_error(status: int, raw: bytes, headers: Mapping[str, str], provider: str) -> ProviderError:
    detail = _detail(raw)
    if status == 400 and detail.get("code") == CONTENT_FILTER:
        flagged = _flagged_categories(detail)
        which = f" ({', '.join(flagged)})" if flagged else ""
        return UpstreamBadRequestError(
            f"{provider} refused the prompt: Azure's content filter flagged it{which}",
            provider=provider,
            status=status,
            code=CONTENT_FILTER,
            param="messages",
        )
    return openai_http_error(status, raw, headers, provider)


def _detail(raw: bytes) -> Mapping[str, Any]:
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _flagged_categories(detail: Mapping[str, Any]) -> list[str]:
    inner = detail.get("innererror")
    results = inner.get("content_filter_result") if isinstance(inner, dict) else None
    if not isinstance(results, dict):
        return []
    return sorted(
        name
        for name, result in results.items()
        if isinstance(result, dict) and (result.get("filtered") or result.get("detected"))
    )
