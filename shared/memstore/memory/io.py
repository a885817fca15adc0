"""Export, import, backup and restore of :class:`~memstore.memory.ConversationMemory`.

An export is JSONL, one message per line (id, conversation, position, role, type, content, metadata,
created_at), streamed conversation by conversation; an import reads the file twice, a checking pass then the
writing pass (D11), and skips ids already stored, so running it again adds nothing twice. Migrations
(:mod:`memstore.memory.migrate`) reuse the same two passes. The functions take the memory as their first
argument; :class:`~memstore.memory.ConversationMemory`'s methods call them.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memstore._validate import check_count, dumps
from memstore.errors import NotFoundError, ValidationError
from memstore.memory.maintenance import reindex_everything
from memstore.memory.recall import make_scope
from memstore.models import Message
from memstore.stores.buffer import BufferStore

if TYPE_CHECKING:
    from memstore.memory.conversation import ConversationMemory

__all__: list[str] = []

logger = logging.getLogger(__name__)


def to_json(message: Message) -> dict[str, Any]:
    """One export line's object: every field of ``message``, ``created_at`` in ISO 8601."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "position": message.position,
        "role": message.role,
        "type": message.type,
        "content": message.content,
        "metadata": message.metadata,
        "created_at": None if message.created_at is None else message.created_at.isoformat(),
    }


def from_json(value: dict[str, Any]) -> Message:
    """The message of one export line (TypeError/KeyError/ValueError on a malformed one)."""
    if not isinstance(value, dict):
        raise TypeError(f"a message is a JSON object, not {type(value).__name__}")
    created = value.get("created_at")
    return Message(
        role=value["role"],
        content=value["content"],
        type=value.get("type", "text"),
        metadata=value.get("metadata") or {},
        id=value.get("id"),
        conversation_id=value.get("conversation_id"),
        position=value.get("position"),
        created_at=None if created is None else datetime.fromisoformat(created),
    )


def batches(messages: Iterable[Message], size: int) -> Iterator[list[Message]]:
    """``messages`` in lists of ``size`` (the last one shorter)."""
    stream = iter(messages)
    while batch := list(itertools.islice(stream, size)):
        yield batch


def jsonl_messages(source: Path) -> Iterator[Message]:
    """The messages of an :meth:`ConversationMemory.export` file, line by line (ValidationError names the
    first bad line)."""
    with source.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield from_json(json.loads(line))
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                reason = "nested too deep" if isinstance(exc, RecursionError) else exc
                raise ValidationError(f"{source}:{number}: not a memstore message line ({reason})") from exc


def export(
    memory: ConversationMemory,
    path: str | Path,
    *,
    conversation_ids: Iterable[str] | str | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> int:
    """The body of :meth:`ConversationMemory.export`."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    from memstore._files import private_file

    cids = make_scope(memory, conversation_ids, None, None, None, None).conversation_ids
    written = 0
    protected = memory._memory_index.storage_files()
    with (
        private_file(Path(path), overwrite=overwrite, what="export", protected=protected) as staged,
        staged.open("w", encoding="utf-8") as out,
        tqdm(desc="export", unit="msg", disable=not progress) as bar,
    ):
        for cid in cids if cids is not None else memory._conversation_ids():
            for message in BufferStore(memory._chat, cid).get_msgs_forward():
                out.write(dumps(to_json(message)) + "\n")
                written += 1
                bar.update(1)
    return written


def import_(
    memory: ConversationMemory, path: str | Path, *, batch_size: int = 500, progress: bool = False
) -> int:
    """The body of :meth:`ConversationMemory.import_`."""
    check_count(batch_size, "batch_size", minimum=1)
    source = Path(path)
    if not source.is_file():
        raise NotFoundError(f"no file {str(source)!r}")
    total = check_stream(memory, jsonl_messages(source), batch_size)
    return add_stream(memory, jsonl_messages(source), total, batch_size, "import", progress)[0]


def check_stream(memory: ConversationMemory, messages: Iterable[Message], batch_size: int) -> int:
    """Run every check :meth:`ConversationMemory.add` makes on ``messages``, in the batches
    :func:`add_stream` will write,
    without writing; returns how many there are."""
    total = 0
    for batch in batches(messages, batch_size):
        memory._prepared(batch)
        total += len(batch)
    return total


def add_stream(
    memory: ConversationMemory,
    messages: Iterable[Message],
    total: int,
    batch_size: int,
    label: str,
    progress: bool,
    conversations: set[str] | None = None,
) -> tuple[int, set[str]]:
    """:meth:`ConversationMemory.add` ``messages`` in batches under a tqdm bar of ``total``, skipping those
    whose id is already stored (so running an import or a migration again adds nothing twice); returns the
    count and the conversation ids written (also added to ``conversations`` as they are written)."""
    from tqdm import tqdm

    written = skipped = 0
    conversations = set() if conversations is None else conversations  # the caller's sees partial work
    with tqdm(desc=label, unit="msg", total=total, disable=not progress) as bar:
        for batch in batches(messages, batch_size):
            present = memory._fetch([m.id for m in batch if m.id is not None])
            fresh = [m for m in batch if m.id is None or m.id not in present]
            if fresh:
                conversations.update(message.conversation_id or "" for message in memory.add(fresh))
            written += len(fresh)
            skipped += len(batch) - len(fresh)
            bar.update(len(batch))
    if skipped:
        logger.info("%s: %d message(s) already present (same id) were skipped", label, skipped)
    return written, conversations


def restore(memory: ConversationMemory, path: str | Path) -> int:
    """The body of :meth:`ConversationMemory.restore`."""
    report = memory.store.restore(path)
    memory._collection_ready = False
    if report.vectors is not None or memory.store._vectors_choice.kind == "sql":
        return memory._flush()
    return reindex_everything(memory)
