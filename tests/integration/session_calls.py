"""Calls the session tests make over HTTP, and the checks they share.

Plain functions over an ``httpx.Client`` (the consumers' own shape: JSON in, JSON out), so each
test reads as the conversation it drives.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

CHAT = "/v1/chat/completions"
SESSIONS = "/v1/sessions"


def gateway_env(redis_url: str, **extra: str) -> dict[str, str]:
    """A gateway on real Redis, without the response cache: every turn reaches the model."""
    return {"LLM_GATEWAY_REDIS_URL": redis_url, "LLM_GATEWAY_CACHE_ENABLED": "false", **extra}


def create_session(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post(SESSIONS, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def read_session(http: httpx.Client, session_id: str) -> dict[str, Any]:
    response = http.get(f"{SESSIONS}/{session_id}")
    assert response.status_code == 200, response.text
    return response.json()


def chat(
    http: httpx.Client, session_id: str | None, text: str, model: str = "echo", **extra: Any
) -> httpx.Response:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}]}
    if session_id is not None:
        body["session_id"] = session_id
    return http.post(CHAT, json={**body, **extra})


def reply_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def turns(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(role, content)`` of each stored message, the comparable part of a history."""
    return [(m["role"], m["content"]) for m in messages]


def utc(timestamp: str) -> datetime:
    """An ISO-8601 timestamp that must carry a UTC offset."""
    moment = datetime.fromisoformat(timestamp)
    assert moment.utcoffset() == timedelta(0), timestamp
    return moment.astimezone(UTC)


def openai_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """The ``error`` object of an OpenAI-shaped error answer with ``status`` (and ``code``)."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}, error
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error
