"""Inputs shared by the LlamaIndex suites: hostile keys and one ChatMessage of every shape."""

from __future__ import annotations

from pathlib import Path

from llama_index.core.base.llms.types import (
    AudioBlock,
    CacheControl,
    CachePoint,
    CitableBlock,
    CitationBlock,
    DocumentBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)
from llama_index.core.llms import ChatMessage, ImageBlock, MessageRole, TextBlock

KEYS_KEPT = [
    "x'; DROP TABLE memstore_messages; --",
    "\"quoted\" 'single' `back`",
    "100% _under_ \\ back\\slash",
    "émoji 🧠 ünïcode",
    "a" * 1000,
    " leading and trailing ",
    "new\nline\ttab",
]
"""Keys that must round-trip exactly."""

KEYS_REJECTED = [
    "",
    "nul\x00byte",
    "lone \ud800 surrogate",
    "a" * 2000,
    "memstore:archive:x",
    "memstore:recall:x",
    None,
    7,
]
"""Keys that must raise memstore.ValidationError before anything is written."""

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2


def every_shape(tmp_path: Path) -> list[ChatMessage]:
    """One ChatMessage per role and per block type, with tool calls and nested additional_kwargs."""
    image_file = tmp_path / "cat.png"
    image_file.write_bytes(PNG)
    messages = [ChatMessage(role=role, content=f"as {role.value}") for role in MessageRole]
    messages += [
        ChatMessage(role="user", content=""),
        ChatMessage(role="assistant", blocks=[]),
        ChatMessage(role="user", content="line one\nline two 'quoted' \"double\" émoji 🧠 \\ back"),
        ChatMessage(
            role="user",
            blocks=[
                TextBlock(text="look"),
                ImageBlock(url="https://example.com/cat.png", detail="high"),
                ImageBlock(path=image_file),
                ImageBlock(image=PNG, image_mimetype="image/png"),
                TextBlock(text="and this"),
            ],
        ),
        ChatMessage(role="user", blocks=[ImageBlock(url="data:image/png;base64,iVBORw0KGgo=")]),
        ChatMessage(
            role="user",
            blocks=[
                AudioBlock(url="https://example.com/a.mp3", format="mp3"),
                AudioBlock(audio=b"RIFF\x00\x00\x00\x00WAVEfmt "),
                VideoBlock(url="https://example.com/v.mp4", fps=24),
                DocumentBlock(data=b"%PDF-1.4 tiny", title="doc"),
                DocumentBlock(url="https://example.com/d.pdf"),
            ],
        ),
        ChatMessage(
            role="assistant",
            blocks=[
                ThinkingBlock(content="hmm", num_tokens=3, additional_information={"sig": "abc"}),
                TextBlock(text="answer"),
                CachePoint(cache_control=CacheControl(type="ephemeral", ttl="1h")),
            ],
        ),
        ChatMessage(
            role="user",
            blocks=[
                CitableBlock(title="t", source="s", content=[TextBlock(text="cite me")]),
                CitationBlock(
                    cited_content=TextBlock(text="quoted"),
                    source="s",
                    title="t",
                    additional_location_info={"page": 3},
                ),
            ],
        ),
        ChatMessage(
            role="assistant",
            blocks=[
                ToolCallBlock(tool_call_id="call_1", tool_name="search", tool_kwargs={"q": "cats", "k": 3})
            ],
        ),
        ChatMessage(
            role="assistant",
            content="",
            additional_kwargs={
                "tool_calls": [
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "add", "arguments": '{"a": 1, "b": 2.5}'},
                    }
                ]
            },
        ),
        ChatMessage(role="tool", content="3.5", additional_kwargs={"tool_call_id": "call_2", "name": "add"}),
        ChatMessage(
            role="assistant",
            content="nested",
            additional_kwargs={"a": {"b": [1, 2.5, True, None, "x", {"c": []}]}, "empty": {}, "n": -7},
        ),
    ]
    return messages
