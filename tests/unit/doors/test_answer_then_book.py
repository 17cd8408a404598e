"""The Responses and Messages doors answer a whole turn before it is booked
(``answer_then_book``), as the chat door does, and book it when no answer could be made."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway_core.use_cases.chat_turn import TurnOutcome
from gateway_http.turn_adapter import AnsweredTurn, answer_then_book
from gateway_http.whole_json import WholeJson


class _Booking:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def book(self) -> None:
        self.events.append("booked")


async def _answer(outcome: TurnOutcome) -> tuple[bytes, dict[str, str]]:
    return b'{"answer": 1}', {"x-gateway-cost-usd": "0"}


async def _broken_answer(outcome: TurnOutcome) -> tuple[bytes, dict[str, str]]:
    raise ValueError("the answer could not be made")


def test_the_answer_goes_out_before_the_booking() -> None:
    booking = _Booking()
    answered = AnsweredTurn(TurnOutcome(), booking.book)

    async def sent() -> list[str]:
        answer = await answer_then_book(answered, _answer)
        assert isinstance(answer, WholeJson) and booking.events == []

        async def send(message: Any) -> None:
            booking.events.append(message["type"])

        await answer.to_asgi_response(None, None)({"type": "http"}, None, send)  # type: ignore[arg-type]
        return booking.events

    written = ["http.response.start", "http.response.body", "booked"]
    assert asyncio.run(sent()) == written


def test_a_turn_whose_answer_fails_is_booked_at_once() -> None:
    booking = _Booking()
    answered = AnsweredTurn(TurnOutcome(), booking.book)
    with pytest.raises(ValueError, match="could not be made"):
        asyncio.run(answer_then_book(answered, _broken_answer))
    assert booking.events == ["booked"]
