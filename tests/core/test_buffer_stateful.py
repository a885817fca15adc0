"""Random operation sequences against a plain Python list: the buffer store never diverges from it."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from memstore import Memstore, Message

ROLES = st.sampled_from(["user", "assistant", "system", "tool"])
TYPES = st.sampled_from(["text", "tool_call"])
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)
META = st.dictionaries(
    st.sampled_from(["a", "b", "k"]), st.integers(-3, 3) | st.booleans() | TEXT, max_size=3
)
MESSAGES = st.builds(Message, role=ROLES, content=TEXT, type=TYPES, metadata=META)


def _view(message: Message) -> tuple[Any, ...]:
    return (message.id, message.role, message.type, message.content, message.metadata)


class BufferMachine(RuleBasedStateMachine):
    memstore: Memstore

    @initialize()
    def start(self) -> None:
        self.buffer = self.memstore.buffer(uuid.uuid4().hex)
        self.model: list[Message] = []

    @rule(message=MESSAGES)
    def add(self, message: Message) -> None:
        self.model.append(self.buffer.add_msg(message))

    @rule(messages=st.lists(MESSAGES, max_size=5))
    def add_batch(self, messages: list[Message]) -> None:
        self.model.extend(self.buffer.add_msgs(messages))

    @precondition(lambda self: self.model)
    @rule(data=st.data(), content=TEXT, metadata=META)
    def edit(self, data: st.DataObject, content: str, metadata: dict[str, Any]) -> None:
        index = data.draw(st.integers(0, len(self.model) - 1))
        target = self.model[index]
        self.model[index] = self.buffer.edit_msg(target.id or "", content=content, metadata=metadata)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(0, len(self.model) - 1))
        deleted = self.buffer.delete_msg(self.model[index].id or "")
        assert _view(deleted) == _view(self.model.pop(index))

    @rule()
    def clear(self) -> None:
        assert self.buffer.clear() == len(self.model)
        self.model.clear()

    @rule(count=st.integers(-8, 8))
    def get_first_or_last(self, count: int) -> None:
        expected = self.model[:count] if count >= 0 else self.model[count:]
        assert [_view(m) for m in self.buffer.get_msg(count)] == [_view(m) for m in expected]

    @rule(page=st.integers(-4, 4).filter(bool), size=st.integers(1, 4))
    def get_page(self, page: int, size: int) -> None:
        if page > 0:
            expected = self.model[(page - 1) * size : page * size]
        else:
            end = len(self.model) - (-page - 1) * size
            expected = self.model[max(end - size, 0) : max(end, 0)]
        assert [_view(m) for m in self.buffer.get_msg([page, size])] == [_view(m) for m in expected]

    @rule(role=ROLES, key=st.sampled_from(["a", "b", "k"]), value=st.integers(-3, 3))
    def get_filtered(self, role: str, key: str, value: int) -> None:
        expected = [
            m
            for m in self.model
            if m.role != role
            and isinstance(m.metadata.get(key), int)
            and not isinstance(m.metadata.get(key), bool)
            and m.metadata[key] == value
        ]
        found = self.buffer.get_msg(role_exclude=[role], filter_meta={key: value})
        assert [_view(m) for m in found] == [_view(m) for m in expected]

    @invariant()
    def same_length_and_order(self) -> None:
        if not hasattr(self, "buffer"):
            return
        assert self.buffer.length() == len(self.model)
        positions = [m.position for m in self.buffer.get_msg()]
        assert positions == sorted(positions)
        assert positions == [m.position for m in self.model]


def test_buffer_store_matches_a_list_model(store_url: str) -> None:
    with Memstore(store_url) as memstore:
        machine = type("Machine", (BufferMachine,), {"memstore": memstore})
        run_state_machine_as_test(
            machine, settings=settings(max_examples=200, stateful_step_count=15, deadline=None)
        )
