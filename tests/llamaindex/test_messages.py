"""The ChatMessage <-> memstore.Message mapping: lossless for every role and block, strict on bad data."""

from __future__ import annotations

import base64
import datetime
import math
from pathlib import Path
from typing import Any

import pytest
from li_cases import PNG, every_shape
from llama_index.core.bridge.pydantic import BaseModel
from llama_index.core.llms import ChatMessage, ImageBlock, MessageRole, TextBlock

from llamaindex_memstore import MemstoreChatStore, to_chat_message, to_memstore_message
from memstore import Memstore, Message, ValidationError


def test_every_shape_round_trips_through_the_mapping(tmp_path: Path) -> None:
    for original in every_shape(tmp_path):
        assert to_chat_message(to_memstore_message(original)) == original, original


def test_every_shape_round_trips_through_every_backend(chat_store: MemstoreChatStore, tmp_path: Path) -> None:
    originals = every_shape(tmp_path)
    for message in originals:
        chat_store.add_message("k", message)
    assert chat_store.get_messages("k") == originals


def test_the_mapping_table(tmp_path: Path) -> None:
    plain = to_memstore_message(ChatMessage(role="developer", content="hi"))
    assert (plain.role, plain.type, plain.content, plain.metadata) == ("developer", "text", "hi", {})

    image = ImageBlock(url="https://example.com/cat.png")
    rich = to_memstore_message(ChatMessage(role="user", blocks=[TextBlock(text="a"), image]))
    assert rich.type == "blocks"
    assert rich.content == [{"block_type": "text", "text": "a"}, image.model_dump(mode="json")]
    assert rich.content[1]["url"] == "https://example.com/cat.png"  # type: ignore[index]

    calls = {"tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}]}
    call = to_memstore_message(ChatMessage(role="assistant", content="", additional_kwargs=calls))
    assert (call.type, call.content, call.metadata) == ("tool_call", "", {"additional_kwargs": calls})

    result = to_memstore_message(
        ChatMessage(role="tool", content="4", additional_kwargs={"tool_call_id": "c1"})
    )
    assert (result.role, result.type) == ("tool", "tool_result")
    assert to_memstore_message(ChatMessage(role="user", blocks=[])).content == []


def test_image_data_is_kept_inline_as_base64() -> None:
    stored = to_memstore_message(ChatMessage(role="user", blocks=[ImageBlock(image=PNG)]))
    part = stored.content[0]  # type: ignore[index]
    assert base64.b64decode(part["image"]) == PNG
    assert part["image_mimetype"] == "image/png"


def test_an_image_path_reads_back_after_the_file_is_gone(tmp_path: Path) -> None:
    picture = tmp_path / "gone.png"
    picture.write_bytes(PNG)
    original = ChatMessage(role="user", blocks=[ImageBlock(path=picture)])
    stored = to_memstore_message(original)
    picture.unlink()
    assert to_chat_message(stored) == original


class _ToolCall(BaseModel):
    id: str
    arguments: dict[str, Any]


def test_pydantic_and_bytes_kwargs_are_stored_as_llamaindex_serialises_them() -> None:
    original = ChatMessage(
        role="assistant",
        content="",
        additional_kwargs={
            "tool_calls": [_ToolCall(id="c", arguments={"x": 1})],
            "raw": b"\x00\xff",
            "t": (1, 2),
        },
    )
    restored = to_chat_message(to_memstore_message(original))
    assert restored.additional_kwargs == {
        "tool_calls": [{"id": "c", "arguments": {"x": 1}}],
        "raw": base64.b64encode(b"\x00\xff").decode(),
        "t": [1, 2],
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"when": datetime.datetime(2024, 1, 1)},
        {"tags": {"a", "b"}},
        {"obj": object()},
        {"nan": math.nan},
        {"inf": [math.inf]},
        {1: "int key"},
        {"nested": {2: "int key"}},
        {"nul": "a\x00b"},
        {"surrogate": "\ud800"},
    ],
)
def test_non_json_additional_kwargs_raise_before_writing(chat_store: MemstoreChatStore, kwargs: Any) -> None:
    message = ChatMessage(role="user", content="x")
    message.additional_kwargs.update(kwargs)  # as code that fills them in after construction does
    with pytest.raises(ValidationError):
        to_memstore_message(message)
    chat_store.add_message("k", ChatMessage(role="user", content="before"))
    with pytest.raises(ValidationError):
        chat_store.add_message("k", message)
    with pytest.raises(ValidationError):
        chat_store.set_messages("k", [ChatMessage(role="user", content="fine"), message])
    assert [m.content for m in chat_store.get_messages("k")] == ["before"]


@pytest.mark.parametrize("text", ["a\x00b", "lone \udc00"])
def test_text_postgresql_cannot_hold_is_rejected_everywhere(chat_store: MemstoreChatStore, text: str) -> None:
    with pytest.raises(ValidationError):
        chat_store.add_message("k", ChatMessage(role="user", content=text))
    assert chat_store.get_keys() == []


def test_not_a_chat_message_is_rejected() -> None:
    with pytest.raises(ValidationError):
        to_memstore_message({"role": "user", "content": "hi"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "stored",
    [
        Message(role="critic", content="unknown role"),
        Message(role="user", content=[{"type": "text", "text": "not a LlamaIndex block"}]),
        Message(role="user", content=["bare string part"]),
        Message(role="user", content=[{"block_type": "hologram"}]),
        Message(role="user", content=[{"block_type": "text"}]),
        Message(role="user", content="x", metadata={"additional_kwargs": ["not", "an", "object"]}),
    ],
)
def test_data_llamaindex_cannot_read_raises_a_typed_error(memstore: Memstore, stored: Message) -> None:
    memstore.buffer("k").add_msg(stored)
    with pytest.raises(ValidationError, match="stored message"):
        MemstoreChatStore(memstore).get_messages("k")


def test_every_role_maps_to_its_value() -> None:
    for role in MessageRole:
        assert to_memstore_message(ChatMessage(role=role, content="x")).role == role.value
