"""StreamAccumulator: chunks in, a complete answer out."""

from __future__ import annotations

from gateway_core.domain.chat import ChatChunk, ToolCallDelta
from gateway_core.domain.stream_accumulator import StreamAccumulator
from gateway_core.domain.usage import Usage


def test_text_tool_calls_by_index_finish_and_usage_make_the_response() -> None:
    accumulator = StreamAccumulator()
    assert not accumulator.started
    for chunk in (
        ChatChunk(role="assistant", content="", model="m-1", provider="p"),
        ChatChunk(content="Let me "),
        ChatChunk(content="look.", provider="other"),
        ChatChunk(tool_calls=(ToolCallDelta(1, "call_b", "second", '{"x"'),)),
        ChatChunk(tool_calls=(ToolCallDelta(0, "call_a", "first", "{}"),)),
        # Some providers repeat id and name in every fragment: the first ones count.
        ChatChunk(tool_calls=(ToolCallDelta(1, "ignored", "ignored", ": 1}"),)),
        ChatChunk(finish_reason="tool_calls", native_finish_reason="tool_use"),
        ChatChunk(usage=Usage(3, 1)),
        ChatChunk(usage=Usage(10, 7)),  # the last report wins
    ):
        accumulator.add(chunk)
    response = accumulator.response("requested")
    choice = response.choices[0]
    assert choice.message.text == "Let me look."
    assert [(c.id, c.name, c.arguments) for c in choice.message.tool_calls] == [
        ("call_a", "first", "{}"), ("call_b", "second", '{"x": 1}'),
    ]  # fmt: skip
    assert (choice.finish_reason, choice.native_finish_reason) == ("tool_calls", "tool_use")
    assert (response.usage, response.model, response.provider) == (Usage(10, 7), "m-1", "p")
    assert accumulator.generated_chars() == len("Let me look.") + len('{"x": 1}{}')


def test_an_empty_stream_answers_with_the_requested_model_and_a_usage_given() -> None:
    accumulator = StreamAccumulator()
    accumulator.add(ChatChunk(role="assistant"))
    response = accumulator.response("requested", usage=Usage(5, 0))
    assert accumulator.started
    assert (response.model, response.usage, response.choices[0].message.content) == (
        "requested", Usage(5, 0), None,
    )  # fmt: skip
    assert response.choices[0].message.tool_calls == ()
    assert [c.id for c in StreamAccumulator().message().tool_calls] == []


def test_a_call_without_an_id_gets_one_by_its_index() -> None:
    accumulator = StreamAccumulator()
    accumulator.add(ChatChunk(tool_calls=(ToolCallDelta(2, None, "f", "{}"),)))
    assert accumulator.message().tool_calls[0].id == "call_2"


# -- what the gateway does not model (issue 12) ----------------------------------------------


def test_extras_add_up_as_the_json_answer_has_them() -> None:
    accumulator = StreamAccumulator()
    top = {"service_tier": "default", "system_fingerprint": "fp_1"}
    first_logprobs = {"content": [{"token": "No", "logprob": -0.1}], "refusal": None}
    for chunk in (
        ChatChunk(role="assistant", content="", delta_extra={"refusal": None}, extra=top),
        ChatChunk(reasoning_content="Think", extra=top),
        ChatChunk(reasoning_content="ing.", extra={"service_tier": None}),
        ChatChunk(delta_extra={"refusal": "I can't"}, choice_extra={"logprobs": first_logprobs}),
        ChatChunk(delta_extra={"refusal": " help."}, choice_extra={"logprobs": None}),
        ChatChunk(delta_extra={"thinking_blocks": [{"type": "thinking", "signature": "s1"}]}),
        ChatChunk(delta_extra={"thinking_blocks": [{"type": "thinking", "signature": "s2"}]}),
        ChatChunk(delta_extra={"audio": {"id": "a1", "transcript": "He", "data": "AA"}}),
        ChatChunk(delta_extra={"audio": {"id": "a1", "transcript": "llo", "expires_at": 9}}),
        ChatChunk(delta_extra={"x_new": {"nested": [1]}}),
        ChatChunk(
            choice_extra={"logprobs": {"content": [{"token": ".", "logprob": -0.2}]}},
            finish_reason="stop",
        ),
        ChatChunk(dropped_params=("top_k",)),
    ):
        accumulator.add(chunk)
    response = accumulator.response("m")
    message = response.choices[0].message
    assert message.content is None
    assert message.reasoning_content == "Thinking."
    assert dict(message.extra) == {
        "refusal": "I can't help.",
        "thinking_blocks": [
            {"type": "thinking", "signature": "s1"}, {"type": "thinking", "signature": "s2"},
        ],
        "audio": {"id": "a1", "transcript": "Hello", "data": "AA", "expires_at": 9},
        "x_new": {"nested": [1]},
    }  # fmt: skip
    assert dict(response.choices[0].extra) == {
        "logprobs": {
            "content": [{"token": "No", "logprob": -0.1}, {"token": ".", "logprob": -0.2}],
            "refusal": None,
        }
    }
    assert dict(response.extra) == {"service_tier": "default"}  # a null does not erase it
    assert response.system_fingerprint == "fp_1"
    assert response.dropped_params == ("top_k",)
    # The chunks' own values were copied, never changed (they may still be on their way out).
    assert first_logprobs == {"content": [{"token": "No", "logprob": -0.1}], "refusal": None}


def test_entries_with_an_index_are_merged_others_appended() -> None:
    accumulator = StreamAccumulator()
    accumulator.add(ChatChunk(delta_extra={"parts": [{"index": 0, "text": "a"}, "x"]}))
    accumulator.add(ChatChunk(delta_extra={"parts": [{"index": 0, "text": "b"}, "y"]}))
    assert accumulator.message().extra["parts"] == [{"index": 0, "text": "ab"}, "x", "y"]


def test_a_message_handed_out_does_not_change_with_later_chunks() -> None:
    accumulator = StreamAccumulator()
    accumulator.add(ChatChunk(delta_extra={"annotations": [{"type": "url_citation"}]}))
    before = accumulator.message()
    accumulator.add(ChatChunk(delta_extra={"annotations": [{"type": "file_citation"}]}))
    assert before.extra["annotations"] == [{"type": "url_citation"}]
    assert len(accumulator.message().extra["annotations"]) == 2


def test_a_stream_without_extras_has_none() -> None:
    accumulator = StreamAccumulator()
    accumulator.add(ChatChunk(role="assistant", content="Hi"))
    response = accumulator.response("m")
    assert response.choices[0].message.extra == {}
    assert (response.choices[0].extra, response.extra, response.dropped_params) == ({}, {}, ())
    assert response.system_fingerprint is None


def test_thinking_blocks_stay_with_the_message() -> None:
    """A streamed Anthropic turn's signed thinking must go back with it (session, tool loop)."""
    block = {"type": "thinking", "thinking": "Hmm.", "signature": "sig-1"}
    accumulator = StreamAccumulator()
    accumulator.add(ChatChunk(reasoning_content="Hmm."))
    accumulator.add(ChatChunk(delta_extra={"thinking_blocks": [block]}))
    accumulator.add(ChatChunk(content="Done."))
    assert accumulator.message().extra == {"thinking_blocks": [block]}
    assert StreamAccumulator().message().extra == {}
