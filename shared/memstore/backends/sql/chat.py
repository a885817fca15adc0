"""The chat backend on SQL: conversations, platforms and messages, every read pushed into one query."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from memstore.backends.base import Conversation, MessageQuery, Platform
from memstore.backends.sql.database import Database, insert_many
from memstore.backends.sql.filters import compile_filter
from memstore.backends.sql.schema import UtcDateTime, conversations, messages, platforms
from memstore.errors import NotFoundError
from memstore.models import Message

__all__ = ["SqlChatBackend"]

_MESSAGE_COLUMNS = (
    messages.c.id,
    messages.c.conversation_id,
    messages.c.position,
    messages.c.role,
    messages.c.type,
    messages.c.content_text,
    messages.c.content_parts,
    messages.c.metadata,
    messages.c.created_at,
)


_CONDITIONS: dict[str, Callable[[], ColumnElement[bool]]] = {
    "types_in": lambda: messages.c.type.in_(bindparam("types_in", expanding=True)),
    "types_out": lambda: messages.c.type.not_in(bindparam("types_out", expanding=True)),
    "roles_in": lambda: messages.c.role.in_(bindparam("roles_in", expanding=True)),
    "roles_out": lambda: messages.c.role.not_in(bindparam("roles_out", expanding=True)),
    "after": lambda: messages.c.position > bindparam("after"),
    "before": lambda: messages.c.position < bindparam("before"),
    "positions": lambda: messages.c.position.in_(bindparam("positions", expanding=True)),
    "since": lambda: messages.c.created_at >= bindparam("since"),
    "until": lambda: messages.c.created_at < bindparam("until"),
}
"""The fixed-shape conditions of a MessageQuery, each on a bound parameter named after its field."""


def _present(query: MessageQuery, name: str) -> bool:
    value = getattr(query, name)
    # An empty exclusion list excludes nothing; an empty inclusion list still applies (and matches nothing).
    return bool(value) if name in {"types_out", "roles_out"} else value is not None


@functools.lru_cache(maxsize=512)
def _cached_statement(
    shape: tuple[str, ...], *, count: bool, descending: bool, offset: bool, limit: bool
) -> Any:
    # Building a Select and its cache key costs more than running it on SQLite; each shape is built once.
    where = [messages.c.conversation_id == bindparam("conversation_id"), *(_CONDITIONS[n]() for n in shape)]
    if count:
        return select(func.count()).select_from(messages).where(*where)
    order = messages.c.position.desc() if descending else messages.c.position.asc()
    statement = select(*_MESSAGE_COLUMNS).where(*where).order_by(order)
    if offset:
        statement = statement.offset(bindparam("offset"))
    if limit:
        statement = statement.limit(bindparam("limit"))
    return statement


def _message(row: Any) -> Message:
    # Positional unpacking (in _MESSAGE_COLUMNS order): attribute access on a Row costs more, per row.
    id_, conversation_id, position, role, type_, text, parts, metadata, created_at = row
    return Message.from_storage(
        id=id_,
        conversation_id=conversation_id,
        position=position,
        role=role,
        type=type_,
        content=text if parts is None else parts,
        metadata=metadata,
        created_at=created_at,
    )


@functools.lru_cache(maxsize=4)
def _reserve_statement(insert: Any, up_to: bool) -> Any:
    # ``n`` is the count of new positions, or (``up_to``) the position to reserve up to; either way it is
    # also the counter of a conversation created by this statement.
    counter = conversations.c.next_position
    now = bindparam("now", type_=UtcDateTime())
    n: Any = bindparam("n")
    bump: Any = case((counter < n, n), else_=counter) if up_to else counter + n
    create = insert(conversations).values(
        id=bindparam("id"),
        platform_id=None,
        title=None,
        metadata={},
        created_at=now,
        updated_at=now,
        next_position=n,
    )
    return create.on_conflict_do_update(
        index_elements=[conversations.c.id], set_={"next_position": bump, "updated_at": now}
    ).returning(counter)


_MESSAGE_FIELDS = (
    "id",
    "conversation_id",
    "position",
    "role",
    "type",
    "content_text",
    "content_parts",
    "metadata",
    "created_at",
)
_INSERT_MESSAGE = messages.insert().values({name: bindparam(name) for name in _MESSAGE_FIELDS})


def _content_parts(message: Message) -> Any:
    """The ``content_parts`` column: the list of parts, or NULL when the content is a plain str."""
    return None if isinstance(message.content, str) else message.content


def _message_row(m: Message) -> list[Any]:
    """The values of ``m`` in :data:`_MESSAGE_FIELDS` order."""
    return [
        m.id,
        m.conversation_id,
        m.position,
        m.role,
        m.type,
        m.text,
        _content_parts(m),
        m.metadata,
        m.created_at,
    ]


def _message_values(message: Message) -> dict[str, Any]:
    return {
        "role": message.role,
        "type": message.type,
        "content_text": message.text,
        "content_parts": _content_parts(message),
        "metadata": message.metadata,
    }


def _conversation(row: Any) -> Conversation:
    return Conversation(
        id=row.id,
        platform_id=row.platform_id,
        title=row.title,
        metadata=row.metadata,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _platform(row: Any) -> Platform:
    return Platform(id=row.id, name=row.name, metadata=row.metadata, created_at=row.created_at)


class SqlChatBackend:
    """Implements :class:`memstore.stores.chat.ChatBackend` on a :class:`Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # -- messages -----------------------------------------------------------------------------------------

    def _reserve(
        self, conn: Connection, conversation_id: str, now: datetime, *, count: int, up_to: int | None = None
    ) -> int:
        """Create the conversation if needed and reserve positions in it, in one statement; returns the new
        counter: ``count`` more positions, or (``up_to``) every position below ``up_to``.

        The counter row it writes stays locked until commit: that is what serialises writers per conversation.
        """
        statement = _reserve_statement(self._db.insert, up_to is not None)
        params = {"id": conversation_id, "now": now, "n": count if up_to is None else up_to}
        return int(conn.execute(statement, params).scalar_one())

    def append(
        self,
        conversation_id: str,
        batch: Sequence[Message],
        now: datetime,
        *,
        replace: bool = False,
        on_write: Callable[[Connection, list[Message]], None] | None = None,
    ) -> list[Message]:
        """``on_write(conn, stored)`` runs in the same transaction after the insert (ConversationMemory's
        keyword index and outbox rows are written there, so they commit or roll back with the messages)."""
        given = [m.position for m in batch if m.position is not None]
        up_to = max(given) + 1 if given else None

        def work(conn: Connection) -> list[Message]:
            start = self._reserve(conn, conversation_id, now, count=len(batch), up_to=up_to) - len(batch)
            if replace:
                conn.execute(delete(messages).where(messages.c.conversation_id == conversation_id))
            stored = [
                m.stored(position=m.position if given else start + index, created_at=m.created_at or now)
                for index, m in enumerate(batch)
            ]
            if stored:
                insert_many(conn, _INSERT_MESSAGE, _MESSAGE_FIELDS, [_message_row(m) for m in stored])
            if on_write is not None:
                on_write(conn, stored)
            return stored

        return self._db.run(work, write=True, operation="buffer.append")

    def insert(
        self, conversation_id: str, index: int, batch: Sequence[Message], now: datetime
    ) -> list[Message]:
        # The tail (list index `index` onwards) without a COUNT: from the start with an offset, or from the
        # end with a limit (a limit past the start takes everything, as list.insert clamps).
        if index >= 0:
            tail_query = (
                select(messages.c.id)
                .where(messages.c.conversation_id == conversation_id)
                .order_by(messages.c.position.asc())
                .offset(index)
            )
        else:
            tail_query = (
                select(messages.c.id)
                .where(messages.c.conversation_id == conversation_id)
                .order_by(messages.c.position.desc())
                .limit(-index)
            )
        relocate = (
            update(messages)
            .where(messages.c.id == bindparam("moved_id"))
            .values(position=bindparam("new_position"))
        )

        def work(conn: Connection) -> list[Message]:
            # Creating the conversation (or bumping nothing) locks its counter row first: appenders and
            # other inserters of this conversation wait, so the tail read below is the tail written.
            self._reserve(conn, conversation_id, now, count=0)
            tail = list(conn.execute(tail_query).scalars())
            if index < 0:
                tail.reverse()
            total = len(batch) + len(tail)
            start = self._reserve(conn, conversation_id, now, count=total) - total
            # Fresh positions are above every existing one, so moving the tail row by row never collides.
            if tail:
                conn.execute(
                    relocate,
                    [
                        {"moved_id": moved, "new_position": start + len(batch) + offset}
                        for offset, moved in enumerate(tail)
                    ],
                )
            stored = [
                m.stored(position=start + offset, created_at=m.created_at or now)
                for offset, m in enumerate(batch)
            ]
            if stored:
                insert_many(conn, _INSERT_MESSAGE, _MESSAGE_FIELDS, [_message_row(m) for m in stored])
            return stored

        return self._db.run(work, write=True, operation="buffer.insert")

    def _statement(
        self, conversation_id: str, query: MessageQuery, *, count: bool
    ) -> tuple[Any, dict[str, Any]]:
        """The statement for ``query`` and its parameters; built once per query shape, then reused."""
        shape = tuple(name for name in _CONDITIONS if _present(query, name))
        statement = _cached_statement(
            shape,
            count=count,
            descending=query.descending,
            offset=bool(query.offset),
            limit=query.limit is not None,
        )
        if query.meta is not None:  # a filter tree has no fixed shape: compiled per call
            statement = statement.where(
                compile_filter(query.meta, messages.c.metadata, self._db.backend_name)
            )
        params: dict[str, Any] = {
            "conversation_id": conversation_id,
            "offset": query.offset,
            "limit": query.limit,
        }
        params.update((name, getattr(query, name)) for name in shape)
        return statement, params

    def select(self, conversation_id: str, query: MessageQuery) -> list[Message]:
        statement, params = self._statement(conversation_id, query, count=False)
        return self._db.run(
            lambda conn: [_message(row) for row in conn.execute(statement, params).all()],
            write=False,
            operation="buffer.select",
        )

    def count(self, conversation_id: str, query: MessageQuery) -> int:
        statement, params = self._statement(conversation_id, query, count=True)
        return self._db.run(
            lambda conn: int(conn.execute(statement, params).scalar_one()),
            write=False,
            operation="buffer.count",
        )

    def get_message(self, message_id: str) -> Message | None:
        statement = select(*_MESSAGE_COLUMNS).where(messages.c.id == message_id)

        def read(conn: Connection) -> Message | None:
            row = conn.execute(statement).first()
            return None if row is None else _message(row)

        return self._db.run(read, write=False, operation="buffer.get_message")

    def update_message(self, message: Message) -> None:
        statement = update(messages).where(messages.c.id == message.id).values(**_message_values(message))

        def work(conn: Connection) -> None:
            if conn.execute(statement).rowcount != 1:
                raise NotFoundError(f"no message {message.id!r}")

        self._db.run(work, write=True, operation="buffer.update_message")

    def delete_message(self, conversation_id: str, message_id: str) -> Message | None:
        statement = (
            delete(messages)
            .where(messages.c.id == message_id, messages.c.conversation_id == conversation_id)
            .returning(*_MESSAGE_COLUMNS)
        )

        def work(conn: Connection) -> Message | None:
            row = conn.execute(statement).first()
            return None if row is None else _message(row)

        return self._db.run(work, write=True, operation="buffer.delete_message")

    def clear(self, conversation_id: str) -> int:
        statement = delete(messages).where(messages.c.conversation_id == conversation_id)
        return self._db.run(
            lambda conn: conn.execute(statement).rowcount, write=True, operation="buffer.clear"
        )

    def take_oldest(
        self, conversation_id: str, count: int | None, target_id: str | None, now: datetime
    ) -> list[Message]:
        # Lock the source's counter row first: appenders bump it, so they wait for the move (and the move for
        # them), and two takers of one conversation never pick the same rows. SQLite's single writer
        # (BEGIN IMMEDIATE) gives the same order; FOR UPDATE renders only on PostgreSQL.
        lock_source = (
            select(conversations.c.id).where(conversations.c.id == conversation_id).with_for_update()
        )
        oldest = (
            select(*_MESSAGE_COLUMNS)
            .where(messages.c.conversation_id == conversation_id)
            .order_by(messages.c.position.asc())
            .limit(count)
            .with_for_update()
        )
        relocate = (
            update(messages)
            .where(messages.c.id == bindparam("moved_id"))
            .values(conversation_id=target_id, position=bindparam("new_position"))
        )

        def work(conn: Connection) -> list[Message]:
            if count == 0 or conn.execute(lock_source).first() is None:  # count None: every message
                return []
            taken = [_message(row) for row in conn.execute(oldest)]
            if not taken:
                return []
            if target_id is None:
                # Under the lock the taken rows are exactly those up to the last one's position.
                conn.execute(
                    delete(messages).where(
                        messages.c.conversation_id == conversation_id,
                        messages.c.position <= taken[-1].position,
                    )
                )
                return taken
            start = self._reserve(conn, target_id, now, count=len(taken)) - len(taken)
            moved = [
                m.stored(conversation_id=target_id, position=start + index) for index, m in enumerate(taken)
            ]
            conn.execute(relocate, [{"moved_id": m.id, "new_position": m.position} for m in moved])
            return moved

        return self._db.run(work, write=True, operation="buffer.take_oldest")

    # -- platforms ----------------------------------------------------------------------------------------

    def save_platform(self, platform: Platform, *, create: bool) -> None:
        values = {"name": platform.name, "metadata": platform.metadata}
        if create:
            statement: Any = platforms.insert().values(
                id=platform.id, created_at=platform.created_at, **values
            )
        else:
            statement = update(platforms).where(platforms.c.id == platform.id).values(**values)
        self._db.run(
            lambda conn: conn.execute(statement), write=True, operation="conversations.save_platform"
        )

    def get_platform(self, platform_id: str) -> Platform | None:
        statement = select(platforms).where(platforms.c.id == platform_id)

        def read(conn: Connection) -> Platform | None:
            row = conn.execute(statement).first()
            return None if row is None else _platform(row)

        return self._db.run(read, write=False, operation="conversations.get_platform")

    def list_platforms(self) -> list[Platform]:
        statement = select(platforms).order_by(platforms.c.created_at, platforms.c.id)
        return self._db.run(
            lambda conn: [_platform(row) for row in conn.execute(statement)],
            write=False,
            operation="conversations.list_platforms",
        )

    def delete_platform(self, platform_id: str) -> bool:
        detach = (
            update(conversations).where(conversations.c.platform_id == platform_id).values(platform_id=None)
        )
        remove = delete(platforms).where(platforms.c.id == platform_id)

        def work(conn: Connection) -> bool:
            conn.execute(detach)
            return bool(conn.execute(remove).rowcount)

        return self._db.run(work, write=True, operation="conversations.delete_platform")

    # -- conversations ------------------------------------------------------------------------------------

    def save_conversation(self, conversation: Conversation, *, create: bool) -> None:
        values = {
            "platform_id": conversation.platform_id,
            "title": conversation.title,
            "metadata": conversation.metadata,
            "updated_at": conversation.updated_at,
        }
        if create:
            statement: Any = conversations.insert().values(
                id=conversation.id, created_at=conversation.created_at, next_position=0, **values
            )
        else:
            statement = update(conversations).where(conversations.c.id == conversation.id).values(**values)
        self._db.run(lambda conn: conn.execute(statement), write=True, operation="conversations.save")

    def get_conversation(self, conversation_id: str) -> Conversation | None:
        statement = select(conversations).where(conversations.c.id == conversation_id)

        def read(conn: Connection) -> Conversation | None:
            row = conn.execute(statement).first()
            return None if row is None else _conversation(row)

        return self._db.run(read, write=False, operation="conversations.get")

    def list_conversations(
        self, platform_id: str | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[Conversation]:
        statement = select(conversations)
        if platform_id is not None:
            statement = statement.where(conversations.c.platform_id == platform_id)
        if after is not None:
            stamp, last_id = after
            statement = statement.where(
                or_(
                    conversations.c.updated_at < stamp,
                    and_(conversations.c.updated_at == stamp, conversations.c.id < last_id),
                )
            )
        statement = statement.order_by(conversations.c.updated_at.desc(), conversations.c.id.desc()).limit(
            limit
        )
        return self._db.run(
            lambda conn: [_conversation(row) for row in conn.execute(statement)],
            write=False,
            operation="conversations.list",
        )

    def list_conversation_ids(self, prefix: str, after: str | None, limit: int) -> list[str]:
        statement = select(conversations.c.id).where(
            func.substr(conversations.c.id, 1, len(prefix)) == prefix
        )
        if after is not None:
            statement = statement.where(conversations.c.id > after)
        statement = statement.order_by(conversations.c.id).limit(limit)
        return self._db.run(
            lambda conn: list(conn.execute(statement).scalars()),
            write=False,
            operation="conversations.list_ids",
        )

    def delete_conversation(self, conversation_id: str) -> bool:
        remove_messages = delete(messages).where(messages.c.conversation_id == conversation_id)
        remove = delete(conversations).where(conversations.c.id == conversation_id)

        def work(conn: Connection) -> bool:
            conn.execute(remove_messages)
            return bool(conn.execute(remove).rowcount)

        return self._db.run(work, write=True, operation="conversations.delete")
