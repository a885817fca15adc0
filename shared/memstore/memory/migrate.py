"""Move chat history from other stores into a :class:`~memstore.memory.ConversationMemory`.

Sources (each read with plain SQLAlchemy or ``json``, never through the other library):

- ``json``: a memstore JSON memory file: ``{"conversation id": [message, ...]}`` or a list of messages each
  naming its ``conversation_id``; a message is ``{"role", "content"}`` plus optional ``type``, ``metadata``,
  ``created_at`` (ISO 8601) and ``id``.
- ``langchain-sql``: the table of LangChain's ``SQLChatMessageHistory`` (default ``message_store``: ``id``,
  ``session_id``, ``message`` = ``message_to_dict`` JSON). A session becomes a conversation.
- ``llamaindex-sql``: the table of LlamaIndex's ``SQLAlchemyChatStore`` (``id``, ``key``, ``timestamp`` in ns,
  ``role``, ``status``, ``data`` = ``ChatMessage.model_dump``). A key becomes a conversation.
- ``llamaindex-simple``: the JSON file of LlamaIndex's ``SimpleChatStore.persist``.

LangChain and LlamaIndex messages are stored exactly as ``langchain_memstore`` and ``llamaindex_memstore``
store them (role, type, content, metadata), so those adapters read migrated history back as the original
messages. Messages keep their order; ids are derived from the source's row ids, so migrating the same source
twice raises :class:`~memstore.errors.ConflictError` instead of duplicating. A SQLite target is backed up
first (``<db>.pre-migrate-<UTC time>.db`` beside it, via the online backup API).

The source is read twice: once to check every message, once to write. A bad message anywhere (a row the
source library could not have written, a JSON message without a role) raises ValidationError naming it
before the backup or any write. A failure while writing leaves the batches before it; the backup is the way
back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import MetaData, Table, create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from memstore._validate import mask_password
from memstore.errors import MemstoreError, NotFoundError, ValidationError
from memstore.memory.conversation import ConversationMemory
from memstore.memory.io import add_stream, check_stream, from_json
from memstore.models import Message

__all__ = ["SOURCES", "MigrationReport", "migrate"]

Source = Literal["json", "langchain-sql", "llamaindex-sql", "llamaindex-simple"]
SOURCES: tuple[str, ...] = ("json", "langchain-sql", "llamaindex-sql", "llamaindex-simple")
DEFAULT_TABLES = {"langchain-sql": "message_store", "llamaindex-sql": "llama_index_memory"}
BATCH = 500

# LangChain message type -> role, as langchain_memstore maps them (chat messages carry their own role).
_LANGCHAIN_ROLES = {
    "human": "user",
    "ai": "assistant",
    "system": "system",
    "tool": "tool",
    "function": "function",
    "HumanMessageChunk": "user",
    "AIMessageChunk": "assistant",
    "SystemMessageChunk": "system",
    "ToolMessageChunk": "tool",
    "FunctionMessageChunk": "function",
}


@dataclasses.dataclass(frozen=True)
class MigrationReport:
    """What :func:`migrate` did: messages and conversations written, and the backup taken (if any)."""

    messages: int
    conversations: int
    backup: Path | None


def _stable_id(*parts: object) -> str:
    return "m-" + hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise NotFoundError(f"no file {str(path)!r}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:  # RecursionError: nested beyond what Python parses
        raise ValidationError(f"{str(path)!r} is not JSON ({exc})") from exc


def _json_message(item: Any, index: int, cid: str | None = None) -> Message:
    """A JSON message; without an ``id`` it gets one derived from its place and content, so migrating the
    same file twice conflicts instead of duplicating."""
    if not isinstance(item, dict):
        raise ValidationError(f"message {index}: expected an object, not {type(item).__name__}")
    if cid is not None:
        item = {**item, "conversation_id": cid}
    if item.get("id") is None:
        content = json.dumps(item.get("content"), sort_keys=True)
        item = {
            **item,
            "id": _stable_id("json", item.get("conversation_id"), index, item.get("role"), content),
        }
    try:
        return from_json(item)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(f"message {index}: not a memstore message ({exc!r})") from exc


def _from_memory_json(path: Path) -> Iterator[Message]:
    document = _read_json(path)
    if isinstance(document, dict) and isinstance(document.get("conversations"), dict):
        document = document["conversations"]
    if isinstance(document, dict):
        for cid, items in document.items():
            if not isinstance(items, list):
                raise ValidationError(f"conversation {cid!r}: expected a list of messages")
            for index, item in enumerate(items):
                yield _json_message(item, index, cid)
    elif isinstance(document, list):
        for index, item in enumerate(document):
            yield _json_message(item, index)
    else:
        raise ValidationError("a JSON memory file is an object of conversations or a list of messages")


def _llamaindex_message(data: dict[str, Any], cid: str, key: object, created: datetime | None) -> Message:
    """Stored as ``llamaindex_memstore`` stores a ``ChatMessage`` (one text block: a str; other blocks: the
    list as dumped; ``additional_kwargs`` under ``metadata["additional_kwargs"]``; ``type`` derived), so
    the LlamaIndex adapters read migrated history back as the original messages."""
    role = str(data.get("role") or "user")
    blocks = data.get("blocks")
    content: Any
    if isinstance(blocks, list):
        if len(blocks) == 1 and isinstance(blocks[0], dict) and blocks[0].get("block_type") == "text":
            content = str(blocks[0].get("text", ""))
        else:
            content = blocks
    else:
        content = data.get("content") or ""
    extra = data.get("additional_kwargs") or {}
    parts = blocks if isinstance(blocks, list) else []
    if extra.get("tool_calls") or any(
        isinstance(b, dict) and b.get("block_type") == "tool_call" for b in parts
    ):
        kind = "tool_call"
    elif role in ("tool", "function"):
        kind = "tool_result"
    elif isinstance(content, str) or all(
        isinstance(b, dict) and b.get("block_type") == "text" for b in parts
    ):
        kind = "text"
    else:
        kind = "blocks"
    return Message(
        role=role,
        content=content,
        type=kind,
        metadata={"additional_kwargs": extra} if extra else {},
        id=_stable_id("llamaindex", cid, key),
        conversation_id=cid,
        created_at=created,
    )


def _from_llamaindex_simple(path: Path) -> Iterator[Message]:
    document = _read_json(path)
    store = document.get("store") if isinstance(document, dict) else None
    if not isinstance(store, dict):
        raise ValidationError(f"{str(path)!r} is not a SimpleChatStore file (no 'store' object)")
    for cid, items in store.items():
        if not isinstance(items, list):
            raise ValidationError(f"{str(path)!r}: key {cid!r} holds no list of messages")
        for index, data in enumerate(items):
            with _reading_row(f"key {cid!r}, message {index}"):
                message = _llamaindex_message(data, str(cid), f"simple:{index}", None)
            yield message


def _sync_url(url: str) -> str:
    parsed = make_url(url)
    driver = parsed.drivername
    if driver.endswith("+aiosqlite"):
        parsed = parsed.set(drivername="sqlite")
    elif (driver.startswith("postgresql+") and driver != "postgresql+psycopg") or driver in {
        "postgresql",
        "postgres",
    }:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _rows(url: str, table_name: str, order: tuple[str, ...]) -> Iterator[Any]:
    try:
        source = make_url(_sync_url(url))
        engine = create_engine(source)
    except (SQLAlchemyError, ValueError) as exc:
        shown = mask_password(url)
        raise ValidationError(f"bad source URL {shown!r}; try sqlite:///path/to/file.db") from exc
    database = source.database or ""
    if (
        source.get_backend_name() == "sqlite"
        and database not in {"", ":memory:"}
        and not database.startswith("file:")
        and not Path(database).expanduser().is_file()
    ):
        engine.dispose()  # connecting would create an empty file where the source should be
        raise NotFoundError(f"no source database file {database!r}")
    try:
        with engine.connect() as conn:
            try:
                table = Table(table_name, MetaData(), autoload_with=conn)
            except NoSuchTableError as exc:
                raise NotFoundError(f"no table {table_name!r} in the source database") from exc
            statement = select(table).order_by(*(table.c[name] for name in order))
            yield from conn.execution_options(stream_results=True, yield_per=BATCH).execute(statement)
    except SQLAlchemyError as exc:
        raise MemstoreError(f"reading {table_name!r} failed: {exc}") from exc
    finally:
        engine.dispose()


@contextlib.contextmanager
def _reading_row(where: str) -> Iterator[None]:
    """A row the source library could not have written (bad JSON, wrong shape) becomes ValidationError."""
    try:
        yield
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
        raise ValidationError(f"{where}: not a stored message ({exc!r})") from exc


def _langchain_message(row: Any, table: str) -> Message:
    """A row as ``langchain_memstore`` stores a LangChain message (role from the type, ``type`` the LangChain
    type, every field but content under ``metadata["langchain"]``), so ``MemstoreChatMessageHistory`` reads
    migrated history back as the original messages."""
    raw = row.message
    payload = json.loads(raw) if isinstance(raw, str) else raw
    data = dict(payload.get("data") or {})
    kind = str(payload.get("type") or data.get("type") or "human")
    content = data.pop("content", "")
    data.pop("type", None)
    role = _LANGCHAIN_ROLES.get(kind) or str(data.get("role") or "chat")
    return Message(
        role=role,
        content=content,
        type=kind,
        metadata={"langchain": data},
        id=_stable_id("langchain", table, row.session_id, row.id),
        conversation_id=str(row.session_id),
    )


def _from_langchain_sql(url: str, table: str) -> Iterator[Message]:
    for row in _rows(url, table, ("session_id", "id")):
        with _reading_row(f"table {table!r}, row id {row.id!r}"):
            message = _langchain_message(row, table)
        yield message


def _llamaindex_row_message(row: Any, table: str) -> Message:
    raw = row.data
    data = json.loads(raw) if isinstance(raw, str) else raw
    created = datetime.fromtimestamp(int(row.timestamp) / 1e9, tz=timezone.utc)
    message = _llamaindex_message(data, str(row.key), f"{table}:{row.id}", created)
    if getattr(row, "status", "active") not in (None, "active"):
        message = message.replace(metadata={**message.metadata, "llamaindex_status": row.status})
    return message


def _from_llamaindex_sql(url: str, table: str) -> Iterator[Message]:
    for row in _rows(url, table, ("key", "timestamp", "id")):
        with _reading_row(f"table {table!r}, row id {row.id!r}"):
            message = _llamaindex_row_message(row, table)
        yield message


def _messages(kind: str, source: str, table: str | None) -> Iterator[Message]:
    if kind == "json":
        return _from_memory_json(Path(source))
    if kind == "llamaindex-simple":
        return _from_llamaindex_simple(Path(source))
    if kind == "langchain-sql":
        return _from_langchain_sql(source, table or DEFAULT_TABLES[kind])
    if kind == "llamaindex-sql":
        return _from_llamaindex_sql(source, table or DEFAULT_TABLES[kind])
    raise ValidationError(f"unknown migration source {kind!r}: use one of {', '.join(SOURCES)}")


def _backup_first(memory: ConversationMemory) -> Path | None:
    database = memory.store.database
    if database is None or not database.is_sqlite:
        return None
    path = database.file_path
    if path is None:
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return memory.backup(path.with_name(f"{path.stem}.pre-migrate-{stamp}.db"))


def migrate(
    memory: ConversationMemory,
    kind: Source | str,
    source: str,
    *,
    table: str | None = None,
    backup: bool = True,
    progress: bool = False,
) -> MigrationReport:
    """Copy every message of ``source`` (a file path or a SQLAlchemy URL) into ``memory``, indexed for recall.

    With ``backup`` (the default) a SQLite target is backed up first; ``progress`` shows a tqdm bar (long
    histories take a while: every message is embedded). Returns a :class:`MigrationReport`.
    """
    if kind not in SOURCES:
        raise ValidationError(f"unknown migration source {kind!r}: use one of {', '.join(SOURCES)}")
    # A first pass reads and checks the whole source: bad input raises before the backup or any write.
    total = check_stream(memory, _messages(kind, source, table), BATCH)
    memory._ensure_collection()  # a vector store this memory cannot use fails before the backup is taken
    taken = _backup_first(memory) if backup and total else None
    touched: set[str] = set()
    try:
        count, conversations = add_stream(
            memory, _messages(kind, source, table), total, BATCH, f"migrate {kind}", progress, touched
        )
    except BaseException:
        if taken is not None and not touched:
            taken.unlink(missing_ok=True)  # nothing was written: the backup would only be clutter
        raise
    return MigrationReport(count, len(conversations), taken)
