"""Which newest messages make a context window: the rule every adapter's token and count windows share.

Pure functions over :class:`memstore.Message` (no I/O): :meth:`memstore.BufferStore.get_window` feeds them the
conversation newest first, page by page, and stops reading as soon as they have decided.

The rule: a window is the newest messages whose total fits the limits (``max_messages``, and ``max_tokens`` as
counted by a token counter), oldest first, and it never starts on a **tool result** (a message with role
``tool`` or ``function``: LangChain's ``ToolMessage`` / ``FunctionMessage``, LlamaIndex's ``tool`` and
``function`` roles). A tool result belongs to the message before it (the assistant message that made the tool
call); the window takes that message with all its results, or none of them. Chat models reject a prompt whose
tool result has no tool call before it, and a call without its result is a question the model never saw
answered, so a partial group would only make a worse prompt.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from memstore.errors import ValidationError
from memstore.models import Message

__all__ = ["TOOL_RESULT_ROLES", "TokenCounter", "approximate_tokens", "is_tool_result", "select_window"]

TokenCounter = Callable[[Message], int]
"""Counts the tokens one stored message costs in a prompt (an int >= 0)."""

TOOL_RESULT_ROLES = frozenset({"tool", "function"})
"""Roles of messages that answer a tool call made by the message before them."""


def is_tool_result(message: Message) -> bool:
    """True for a tool's answer (role ``tool`` or ``function``), which a window may not start on."""
    return message.role in TOOL_RESULT_ROLES


def approximate_tokens(message: Message) -> int:
    """A tokenizer-free estimate: one token per 4 characters of the text, plus 3 per message.

    The same rule of thumb as LangChain's ``count_tokens_approximately`` (English text averages about 4
    characters per token on OpenAI's tokenizers); offline and dependency-free, so it is the default when no
    counter is given. Pass a real tokenizer's counter where the limit must be exact.
    """
    return math.ceil(len(message.text) / 4) + 3


def select_window(
    newest_first: Iterable[Message],
    *,
    max_messages: int | None = None,
    max_tokens: int | None = None,
    token_counter: TokenCounter = approximate_tokens,
) -> list[Message]:
    """The window (see the module docstring) from messages given newest first; returned oldest first.

    Consumes ``newest_first`` only as far as needed: it stops at the first group (a message and the tool
    results after it) that does not fit, so a caller streaming pages from a store reads no page past that.
    Tool results with no message before them at all are left out (nothing could make them valid).
    """
    chosen: list[Message] = []
    group: list[Message] = []  # a run of tool results (newest first) waiting for the message that called
    tokens = 0
    group_tokens = 0
    for message in newest_first:
        cost = 0
        if max_tokens is not None:
            cost = token_counter(message)
            if isinstance(cost, bool) or not isinstance(cost, int) or cost < 0:
                raise ValidationError(f"token_counter must return an int >= 0, not {cost!r}")
        group.append(message)
        group_tokens += cost
        size = len(chosen) + len(group)
        over_tokens = max_tokens is not None and tokens + group_tokens > max_tokens
        if is_tool_result(message):
            # The caller still has to join the group, so it must leave room for at least one more message.
            if over_tokens or (max_messages is not None and size + 1 > max_messages):
                break
            continue
        if over_tokens or (max_messages is not None and size > max_messages):
            break
        chosen.extend(group)
        tokens += group_tokens
        group, group_tokens = [], 0
        if max_messages is not None and len(chosen) == max_messages:
            break
    chosen.reverse()
    return chosen
