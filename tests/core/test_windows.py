"""Token and count windows (``BufferStore.get_window``): the tool-call rule, limits, and what is read.

The selection rule is checked as a pure function against a brute-force reference, then on memory, SQLite and
PostgreSQL through the buffer store, with a spy on the backend counting the rows each window reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memstore import BufferStore, Memstore, Message, ValidationError, approximate_tokens
from memstore.stores.windows import is_tool_result, select_window


@pytest.fixture
def store(store_url: str) -> Iterator[Memstore]:
    with Memstore(store_url) as memstore:
        yield memstore


def _msg(role: str, text: str) -> Message:
    return Message(role=role, content=text)


def _turns(n: int) -> list[Message]:
    return [_msg("user" if i % 2 == 0 else "assistant", f"m{i}") for i in range(n)]


def _texts(messages: list[Message]) -> list[str]:
    return [m.text for m in messages]


def _cost(message: Message) -> int:
    return len(message.text)  # a counter tests can reason about: one token per character


def _reference(history: list[Message], max_messages: int | None, max_tokens: int | None) -> list[Message]:
    """The longest valid suffix: fits both limits, does not start on a tool result (brute force)."""
    for start in range(len(history) + 1):
        suffix = history[start:]
        if suffix and is_tool_result(suffix[0]):
            continue
        if max_messages is not None and len(suffix) > max_messages:
            continue
        if max_tokens is not None and sum(_cost(m) for m in suffix) > max_tokens:
            continue
        return suffix
    raise AssertionError("the empty suffix always fits")


ROLES = st.sampled_from(["user", "assistant", "tool", "function", "system"])
HISTORIES = st.lists(st.tuples(ROLES, st.integers(0, 6)), max_size=25).map(
    lambda items: [_msg(role, "x" * size) for role, size in items]
)


@given(HISTORIES, st.none() | st.integers(1, 12), st.none() | st.integers(1, 40))
def test_selection_is_the_longest_valid_suffix(
    history: list[Message], max_messages: int | None, max_tokens: int | None
) -> None:
    chosen = select_window(
        reversed(history), max_messages=max_messages, max_tokens=max_tokens, token_counter=_cost
    )
    assert chosen == _reference(history, max_messages, max_tokens)


def test_never_starts_on_an_orphan_tool_result() -> None:
    history = [
        _msg("user", "weather?"),
        _msg("assistant", "call"),  # the tool call
        _msg("tool", "sunny"),
        _msg("tool", "warm"),
        _msg("assistant", "It is sunny and warm."),
    ]
    newest = list(reversed(history))
    # 3 messages would start on "warm", an orphan: the whole group goes, the answer stays.
    assert _texts(select_window(newest, max_messages=3)) == ["It is sunny and warm."]
    assert _texts(select_window(newest, max_messages=4)) == ["call", "sunny", "warm", "It is sunny and warm."]
    budget = sum(_cost(m) for m in history[1:])
    assert select_window(newest, max_tokens=budget, token_counter=_cost) == history[1:]
    assert select_window(newest, max_tokens=budget - 1, token_counter=_cost) == history[-1:]
    # Tool results with nothing before them are never returned.
    assert select_window([_msg("tool", "a"), _msg("function", "b")], max_messages=5) == []


def test_a_counter_must_return_a_count() -> None:
    with pytest.raises(ValidationError, match="token_counter"):
        select_window([_msg("user", "a")], max_tokens=5, token_counter=lambda m: -1)
    with pytest.raises(ValidationError, match="token_counter"):
        select_window([_msg("user", "a")], max_tokens=5, token_counter=lambda m: 1.5)  # type: ignore[arg-type,return-value]


def test_approximate_tokens() -> None:
    assert approximate_tokens(_msg("user", "")) == 3
    assert approximate_tokens(_msg("user", "abcd")) == 4
    assert approximate_tokens(_msg("user", "abcde")) == 5


# -- through the buffer store, on every backend --------------------------------------------------------------


class RowSpy:
    """Counts the rows the buffer's backend returns."""

    def __init__(self, buffer: BufferStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rows = 0
        self.queries = 0
        backend = buffer._backend
        real = backend.select

        def select(conversation_id: str, query: Any) -> list[Message]:
            found = real(conversation_id, query)
            self.rows += len(found)
            self.queries += 1
            return found

        monkeypatch.setattr(backend, "select", select)


def test_count_window_reads_k_rows(store: Memstore, monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = store.buffer("c")
    buffer.add_msgs(_turns(1000))
    spy = RowSpy(buffer, monkeypatch)
    assert _texts(buffer.get_window(max_messages=5)) == [f"m{i}" for i in range(995, 1000)]
    assert (spy.queries, spy.rows) == (1, 5)


def test_token_window_pages_backwards_until_the_budget_is_spent(
    store: Memstore, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = store.buffer("c")
    buffer.add_msgs(_msg("user", "x" * 10) for _ in range(2000))
    spy = RowSpy(buffer, monkeypatch)
    assert len(buffer.get_window(max_tokens=25, token_counter=_cost)) == 2
    assert (spy.queries, spy.rows) == (1, 32)  # the first page alone
    spy.rows = spy.queries = 0
    # 100 messages fit: pages of 32 + 64 + 128 rows, not the 2,000 of the conversation.
    assert len(buffer.get_window(max_tokens=1000, token_counter=_cost)) == 100
    assert (spy.queries, spy.rows) == (3, 224)
    spy.rows = spy.queries = 0
    assert len(buffer.get_window(max_tokens=10**9, token_counter=_cost)) == 2000


async def test_windows_async_and_combined(store: Memstore) -> None:
    buffer = store.buffer("c")
    await buffer.aadd_msgs(
        [
            _msg("user", "q" * 8),
            _msg("assistant", "c" * 4),
            _msg("tool", "r" * 4),
            _msg("assistant", "a" * 8),
            _msg("user", "z" * 2),
        ]
    )
    assert _texts(await buffer.aget_window(max_tokens=10, token_counter=_cost)) == ["a" * 8, "z" * 2]
    assert _texts(await buffer.aget_window(max_tokens=18, token_counter=_cost)) == [
        "c" * 4,
        "r" * 4,
        "a" * 8,
        "z" * 2,
    ]
    assert _texts(await buffer.aget_window(max_messages=3, max_tokens=18, token_counter=_cost)) == [
        "a" * 8,
        "z" * 2,
    ]
    # The default counter: 4 characters a token, plus 3 a message.
    assert _texts(buffer.get_window(max_tokens=4 + 5)) == ["a" * 8, "z" * 2]
    assert await store.buffer("empty").aget_window(max_messages=3) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"max_messages": 0},
        {"max_tokens": 0},
        {"max_tokens": -5},
        {"max_messages": True},
        {"max_tokens": 1.5},
        {"max_tokens": 5, "token_counter": "len"},
    ],
)
def test_bad_limits_are_rejected(store: Memstore, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        store.buffer("c").get_window(**kwargs)
