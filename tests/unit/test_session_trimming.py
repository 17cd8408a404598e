"""The history trimming policy: keep the head and the newest whole turns, within the limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway_core.domain.messages import ImagePart, Message, TextPart, ToolCall
from gateway_core.domain.sessions import (
    HistoryLimits,
    Trim,
    estimate_tokens,
    plan_trim,
)

SYSTEM = Message.system("You are terse.")


def trim_history(messages: list[Message], limits: HistoryLimits) -> tuple[Message, ...]:
    """The history the session keeps: the plan applied."""
    return plan_trim(messages, limits).apply(messages)


def exchange(index: int) -> list[Message]:
    return [Message.user(f"q{index}"), Message.assistant(f"a{index}")]


def tool_exchange(index: int, results: int = 2) -> list[Message]:
    calls = tuple(ToolCall(f"c{index}_{n}", "search", "{}") for n in range(results))
    return [
        Message.user(f"q{index}"),
        Message.assistant(None, calls),
        *(Message.tool_result(call.id, f"r{index}") for call in calls),
        Message.assistant(f"a{index}"),
    ]


def texts(messages: tuple[Message, ...]) -> list[str]:
    return [m.text or m.role for m in messages]


def test_a_history_within_the_limits_is_kept_whole() -> None:
    history = [SYSTEM, *exchange(1), *exchange(2)]
    assert trim_history(history, HistoryLimits(max_messages=5)) == tuple(history)
    assert plan_trim(history, HistoryLimits(max_messages=5)) == Trim(keep=1, drop=0)


def test_the_oldest_turns_go_and_the_system_message_stays() -> None:
    history = [SYSTEM, *exchange(1), *exchange(2), *exchange(3)]
    assert texts(trim_history(history, HistoryLimits(max_messages=5))) == [
        "You are terse.", "q2", "a2", "q3", "a3"
    ]


def test_a_cut_lands_before_a_user_message_even_if_that_keeps_fewer() -> None:
    history = [SYSTEM, *exchange(1), *exchange(2), *exchange(3)]
    # 4 messages would fit, but "a2" alone cannot start the history: the whole of turn 2 goes.
    assert texts(trim_history(history, HistoryLimits(max_messages=4))) == [
        "You are terse.", "q3", "a3"
    ]


def test_every_leading_system_and_developer_message_is_the_head() -> None:
    head = [SYSTEM, Message(role="developer", content="dev"), Message.system("more")]
    history = [*head, *exchange(1), *exchange(2)]
    assert trim_history(history, HistoryLimits(max_messages=5)) == (*head, *exchange(2))


def test_the_head_stays_even_when_it_alone_is_over_the_limit() -> None:
    head = [SYSTEM, Message.system("two"), Message.system("three")]
    assert trim_history([*head, *exchange(1)], HistoryLimits(max_messages=2)) == tuple(head)


def test_tool_calls_and_their_results_are_never_split() -> None:
    # The newest user turn alone is over the limit of 5 (with the system message): the cut
    # falls inside it, before an assistant message, never between calls and their results.
    history = [SYSTEM, *exchange(1), *tool_exchange(2, results=2)]
    kept = trim_history(history, HistoryLimits(max_messages=5))
    assert texts(kept) == ["You are terse.", "assistant", "r2", "r2", "a2"]

    history = [SYSTEM, *exchange(1), *tool_exchange(2, results=3)]
    kept = trim_history(history, HistoryLimits(max_messages=5))
    assert texts(kept) == ["You are terse.", "a2"]


def test_a_tool_message_is_never_left_first() -> None:
    history = [*tool_exchange(1, results=3)]  # user, call, 3 results, answer
    for limit in range(1, 7):
        kept = trim_history(history, HistoryLimits(max_messages=limit))
        assert not kept or kept[0].role != "tool"
        assert len(kept) <= limit


def test_when_nothing_fits_only_the_head_remains() -> None:
    history = [SYSTEM, Message.user("x" * 400)]
    assert trim_history(history, HistoryLimits(max_messages=10, max_tokens=20)) == (SYSTEM,)


def test_the_token_limit_keeps_the_newest_turns_that_fit() -> None:
    long_turn = [Message.user("x" * 400), Message.assistant("y" * 400)]  # ~2 x 104 tokens
    history = [SYSTEM, *long_turn, *exchange(2), *exchange(3)]
    kept = trim_history(history, HistoryLimits(max_messages=100, max_tokens=100))
    assert texts(kept) == ["You are terse.", "q2", "a2", "q3", "a3"]


def test_tokens_are_estimated_at_four_characters_each_plus_a_message_cost() -> None:
    assert estimate_tokens(Message.user("")) == 4
    assert estimate_tokens(Message.user("abcd")) == 5
    assert estimate_tokens(Message.user("abcde")) == 6
    call = ToolCall("c1", "abcd", "abcdefgh")
    assert estimate_tokens(Message.assistant(None, (call,))) == 4 + 3
    parts = (TextPart("abcd"), ImagePart("data:image/png;base64," + "A" * 10_000))
    assert estimate_tokens(Message(role="user", content=parts)) == 4 + 1 + 765


@pytest.mark.parametrize(("max_messages", "max_tokens"), [(0, None), (5, 0)])
def test_limits_below_one_are_refused(max_messages: int, max_tokens: int | None) -> None:
    with pytest.raises(ValueError):
        HistoryLimits(max_messages=max_messages, max_tokens=max_tokens)


def _message() -> st.SearchStrategy[Message]:
    text = st.text(max_size=40)
    return st.one_of(
        text.map(Message.user),
        text.map(Message.assistant),
        st.just(Message.assistant(None, (ToolCall("c", "f", "{}"),))),
        text.map(lambda t: Message.tool_result("c", t)),
        text.map(Message.system),
    )


@given(
    messages=st.lists(_message(), max_size=30),
    max_messages=st.integers(1, 12),
    max_tokens=st.none() | st.integers(1, 200),
)
def test_trimming_keeps_the_head_and_a_fitting_suffix_cut_at_a_safe_place(
    messages: list[Message], max_messages: int, max_tokens: int | None
) -> None:
    limits = HistoryLimits(max_messages=max_messages, max_tokens=max_tokens)
    plan = plan_trim(messages, limits)
    kept = trim_history(messages, limits)
    head, body = messages[: plan.keep], messages[plan.keep :]

    assert all(m.role == "system" for m in head)
    assert not body or body[0].role != "system"
    assert kept == (*head, *body[plan.drop :])
    if plan.drop and plan.drop < len(body):
        assert body[plan.drop].role != "tool"
    rest = kept[plan.keep :]
    if rest:  # whatever is kept beyond the head fits the limits
        assert len(kept) <= max_messages
        assert max_tokens is None or sum(estimate_tokens(m) for m in kept) <= max_tokens
    assert trim_history(kept, limits) == kept  # trimming is stable

    def fits(start: int) -> bool:
        suffix = (*head, *body[start:])
        within_tokens = max_tokens is None or sum(map(estimate_tokens, suffix)) <= max_tokens
        return len(suffix) <= max_messages and within_tokens

    # No earlier cut would have kept more; a cut inside a user turn only when no user turn fits.
    assert not any(fits(i) for i in range(plan.drop) if body[i].role == "user" or i == 0)
    if 0 < plan.drop < len(body) and body[plan.drop].role != "user":
        assert not any(fits(i) for i in range(1, len(body)) if body[i].role == "user")
