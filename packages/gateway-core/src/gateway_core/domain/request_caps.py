"""What one request may ask for, and how much an answer may grow: pure checks, no I/O.

The model catalogue (``ModelCatalogue``) knows each model's context window and max output
tokens; a model it does not know gets its configured default. ``check_request`` refuses, with
a 400 naming the client's own parameter, an output limit above the model's max output, more
messages (input items, inputs) or tools than the caps allow, and an over-long model name.
Every door states its request's size in its own vocabulary (``RequestSize``: ``max_tokens`` /
``max_completion_tokens`` for chat, ``max_output_tokens`` and ``input`` for the Responses API,
``input`` for embeddings), so the error names what the client sent.

``OutputCap`` is the other side: an upstream that ignores ``max_tokens`` must not have its
answer relayed for ever. A stream's text is counted as it passes (about 4 characters a token,
as ``estimate_partial_usage`` bills it) against a margin over the larger of the model's max
output and the request's own limit. A natively forwarded answer (the Responses and Messages
doors) is held to the same cap, by its own count of the text its events carry and by the
output tokens the vendor reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from gateway_core.domain.chat import ChatChunk, ChatRequest
from gateway_core.errors import RequestCapError, UpstreamTooLargeError

CHARS_PER_TOKEN = 4
_GLOB_CHARACTERS = frozenset("*?[")
_MEMO_SIZE = 4096


@dataclass(frozen=True, slots=True)
class ModelLimits:
    context_window: int
    max_output_tokens: int


@dataclass(frozen=True, slots=True)
class RequestCaps:
    max_messages: int = 2048
    max_tools: int = 128
    max_model_name_chars: int = 256
    output_margin: float = 2.0
    """A stream is cut past this many times its allowed output (see ``OutputCap``)."""


class ModelCatalogue:
    """Limits by model name: exact names first, then glob patterns in the order given, then
    an alias's target (``aliases``, from the providers file); a name routed by prefix
    (``openai/gpt-4o``) is also looked up without it; else ``default``."""

    __slots__ = ("_exact", "_found", "_patterns", "aliases", "default")

    def __init__(
        self,
        exact: Mapping[str, ModelLimits] | None = None,
        patterns: Iterable[tuple[str, ModelLimits]] = (),
        default: ModelLimits = ModelLimits(131_072, 65_536),
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self._exact = dict(exact or {})
        self._patterns = tuple(patterns)
        self.default = default
        self.aliases: Mapping[str, str] = dict(aliases or {})
        self._found: dict[str, ModelLimits] = {}
        """Names already looked up: the globs are matched once per name, not per request."""

    @classmethod
    def from_entries(
        cls, entries: Iterable[tuple[str, ModelLimits]], default: ModelLimits
    ) -> ModelCatalogue:
        exact: dict[str, ModelLimits] = {}
        patterns: list[tuple[str, ModelLimits]] = []
        for name, limits in entries:
            if _GLOB_CHARACTERS.intersection(name):
                patterns.append((name, limits))
            else:
                exact[name] = limits
        return cls(exact, patterns, default)

    def with_aliases(self, aliases: Mapping[str, str]) -> ModelCatalogue:
        """The same entries, ``aliases`` (alias -> model) in place of the current ones."""
        return ModelCatalogue(self._exact, self._patterns, self.default, aliases)

    def known(self, model: str) -> ModelLimits | None:
        for _ in range(len(self.aliases) + 1):  # an alias chain, never a loop for ever
            limits = self._exact.get(model)
            if limits is not None:
                return limits
            for pattern, limits in self._patterns:
                if fnmatchcase(model, pattern):
                    return limits
            target = self.aliases.get(model)
            if target is None:
                return None
            model = target
        return None

    def limits_for(self, model: str) -> ModelLimits:
        found = self._found.get(model)
        if found is not None:
            return found
        limits = self.known(model)
        if limits is None and "/" in model:
            limits = self.known(model.split("/", 1)[1])
        found = self.default if limits is None else limits
        if len(self._found) < _MEMO_SIZE:  # bounded: clients choose the names
            self._found[model] = found
        return found

    def __len__(self) -> int:
        return len(self._exact) + len(self._patterns)


@dataclass(frozen=True, slots=True)
class RequestSize:
    """One request's size, in its door's own parameter names."""

    model: str
    items: int = 0
    tools: int = 0
    max_output: int | None = None
    items_param: str = "messages"
    output_param: str = "max_tokens"


def chat_size(request: ChatRequest) -> RequestSize:
    """A Chat Completions request's size (``max_tokens`` holds whichever limit was sent)."""
    named = "max_completion_tokens" if request.max_completion_tokens is not None else "max_tokens"
    return RequestSize(
        request.model, len(request.messages), len(request.tools), request.max_tokens,
        output_param=named,
    )  # fmt: skip


def check_model_name(model: str, caps: RequestCaps) -> None:
    if len(model) > caps.max_model_name_chars:
        raise RequestCapError(
            f"The model name is {len(model)} characters long; at most "
            f"{caps.max_model_name_chars} are accepted.",
            code="model_name_too_long", param="model",
        )  # fmt: skip


def check_request(size: RequestSize, caps: RequestCaps, catalogue: ModelCatalogue) -> None:
    """Raises ``RequestCapError`` (400) naming the first parameter over its cap."""
    check_model_name(size.model, caps)
    if size.items > caps.max_messages:
        raise RequestCapError(
            f"'{size.items_param}' holds {size.items} items; at most {caps.max_messages} "
            "are accepted in one request.",
            code="too_many_messages", param=size.items_param,
        )  # fmt: skip
    if size.tools > caps.max_tools:
        raise RequestCapError(
            f"'tools' holds {size.tools} tools; at most {caps.max_tools} are accepted.",
            code="too_many_tools", param="tools",
        )  # fmt: skip
    if size.max_output is not None:
        limit = catalogue.limits_for(size.model).max_output_tokens
        if size.max_output > limit:
            raise RequestCapError(
                f"'{size.output_param}' is {size.max_output}, above the {limit} output tokens "
                f"the model '{size.model}' can produce.",
                code="max_tokens_exceeded", param=size.output_param,
            )  # fmt: skip


class OutputCap:
    """Counts a stream's generated characters; ``add`` raises ``UpstreamTooLargeError`` once
    they pass the cap (an upstream ignoring ``max_tokens``). ``check`` is the same cap for a
    reader that keeps its own count (a natively forwarded stream, or a whole answer)."""

    __slots__ = ("_left", "limit_chars")

    def __init__(self, max_output_tokens: int, requested: int | None, margin: float) -> None:
        allowed = max(max_output_tokens, requested or 0)
        self.limit_chars = int(allowed * margin) * CHARS_PER_TOKEN
        self._left = self.limit_chars

    def add_chunk(self, chunk: ChatChunk) -> None:
        chars = len(chunk.content or "") + len(chunk.reasoning_content or "")
        for delta in chunk.tool_calls:
            chars += len(delta.arguments)
        self.add(chars, chunk.provider or "")

    def allows(self, chars: int) -> bool:
        """Whether ``chars`` more stay within the cap (``add`` would not raise)."""
        return self._left >= chars

    def take(self, chars: int) -> bool:
        """Counts ``chars`` more if they stay within the cap (``True``); else counts nothing
        (``False``). A relayed stream's tap takes before it writes and gives back
        (``give_back``) what its write declined: one call per chunk, not two."""
        left = self._left - chars
        if left < 0:
            return False
        self._left = left
        return True

    def give_back(self, chars: int) -> None:
        """Uncounts what ``take`` counted (the write it was for did not happen)."""
        self._left += chars

    def add(self, chars: int, provider: str = "") -> None:
        self._left -= chars
        if self._left < 0:
            raise self._cut(self.limit_chars - self._left, provider)

    def check(self, generated_chars: int, reported_tokens: int = 0, provider: str = "") -> None:
        """Raises once the text generated so far, or the output tokens the upstream reported
        (at 4 characters a token), pass the cap: a vendor may report its output only at the
        end (OpenAI's Responses API), or report more than its text shows (a language of
        fewer characters a token)."""
        chars = max(generated_chars, reported_tokens * CHARS_PER_TOKEN)
        if chars > self.limit_chars:
            raise self._cut(chars, provider)

    @staticmethod
    def _cut(chars: int, provider: str) -> UpstreamTooLargeError:
        return UpstreamTooLargeError(
            "The upstream kept generating past the model's output limit; the answer was cut.",
            provider=provider, received_bytes=chars,
        )  # fmt: skip
