"""``BufferStore``: the ordered messages of one conversation, read without loading what is not asked for."""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Literal

from memstore._sync import to_async, to_async_iter
from memstore._validate import INT64_MAX, check_count, check_identifier
from memstore.errors import NotFoundError, ValidationError
from memstore.filters import Filter, parse_filter
from memstore.models import Content, Message
from memstore.stores.chat import ChatBackend, MessageQuery
from memstore.stores.windows import TokenCounter, approximate_tokens, select_window

__all__ = ["BufferStore", "Count", "CursorPage", "MetaFilter"]

Count = int | Sequence[int] | None
"""``None`` all; ``n`` the first n; ``-n`` the last n (still oldest first); ``[page, size]`` one page."""

MetaFilter = Filter | Mapping[str, Any] | Callable[[dict[str, Any]], bool] | None
"""A metadata filter: the filter language (``memstore.filters`` or its dict form), translated to the
backend's query; or a Python predicate over the metadata dict, applied to pages streamed from the backend
(slower: a last resort for what the language cannot say)."""

STREAM_PAGE_SIZE = 500
WINDOW_FIRST_PAGE = 32
"""The first page a token window reads (then 64, 128, ... up to STREAM_PAGE_SIZE)."""


def new_message_id() -> str:
    """A random 128-bit id as 32 hex characters (what ``uuid4().hex`` gives, at a third of the cost)."""
    return os.urandom(16).hex()


_UNSET: Any = object()


@dataclasses.dataclass(frozen=True)
class CursorPage:
    """One page of a cursor walk: messages oldest first, and the next page's cursor (None at the end)."""

    messages: list[Message]
    next_cursor: str | None


def _cursor(position: int) -> str:
    return f"p{position}"


def _position(cursor: str) -> int:
    if (
        not isinstance(cursor, str)
        or not cursor.startswith("p")
        or not cursor[1:].isdigit()
        or not cursor[1:].isascii()
        or len(cursor) > 20
        or int(cursor[1:]) > INT64_MAX
    ):
        raise ValidationError(f"not a cursor from this store: {cursor[:40]!r}")
    return int(cursor[1:])


class BufferStore:
    """The messages of one conversation, in position order. Reach it as ``Memstore.buffer(conversation_id)``.

    Reads are pushed down to the backend: the last 20 of a 100k-message conversation is one indexed query,
    and the generators stream in pages of ``page_size``. Writes are atomic: a batch is all or nothing.
    The conversation is created on the first write if it does not exist.
    """

    def __init__(self, backend: ChatBackend, conversation_id: str) -> None:
        self._backend = backend
        self.conversation_id = check_identifier(conversation_id, "conversation_id")

    # -- writes -------------------------------------------------------------------------------------------

    def add_msg(self, message: Message) -> Message:
        """Append one message; returns it with id, position and created_at filled in."""
        return self.add_msgs([message])[0]

    def add_msgs(self, messages: Iterable[Message]) -> list[Message]:
        """Append messages in one transaction (all or nothing); returns them as stored.

        Positions continue the conversation unless every message carries its own (imports keep theirs).
        """
        batch = self._prepare(messages)
        if not batch:
            return []
        return self._backend.append(self.conversation_id, batch, datetime.now(timezone.utc))

    def insert_msgs(self, index: int, messages: Iterable[Message]) -> list[Message]:
        """Insert messages before list index ``index``, in one transaction (all or nothing); returns them
        as stored.

        ``index`` follows Python's ``list.insert``: 0 is the front, negative counts from the end (-1 is
        before the newest message), and out of range clamps to the front or the end. The inserted messages
        and every message after them take new positions from the conversation's counter, in list order
        (positions are never reused; ids, content and created_at are kept), so the cost grows with the
        messages after ``index``: inserting near the end is cheap, at the front rewrites every position.
        Appenders and other writers of the conversation wait for it, so none can slip into the gap.
        """
        if isinstance(index, bool) or not isinstance(index, int):
            raise ValidationError(f"index must be an int, not {type(index).__name__}")
        batch = self._prepare(messages)
        if any(m.position is not None for m in batch):
            raise ValidationError("inserted messages take their positions from the store; give none")
        if not batch:
            return []
        return self._backend.insert(self.conversation_id, index, batch, datetime.now(timezone.utc))

    def insert_msg(self, index: int, message: Message) -> Message:
        """Insert one message before list index ``index`` (see :meth:`insert_msgs`); returns it as stored."""
        return self.insert_msgs(index, [message])[0]

    def replace(self, messages: Iterable[Message]) -> list[Message]:
        """Replace every message of the conversation with ``messages`` in one transaction.

        Readers see the old list or the new one, never a mix or an empty list in between; an invalid batch
        leaves the old list untouched. New positions continue after the old ones (positions are never reused).
        """
        batch = self._prepare(messages)
        return self._backend.append(self.conversation_id, batch, datetime.now(timezone.utc), replace=True)

    def _prepare(self, messages: Iterable[Message]) -> list[Message]:
        """Validate a batch as a whole and give every message this conversation and an id."""
        batch = list(messages)
        for message in batch:
            if not isinstance(message, Message):
                raise ValidationError(f"expected memstore.Message objects, not {type(message).__name__}")
            if message.conversation_id not in (None, self.conversation_id):
                raise ValidationError(
                    f"message of conversation {message.conversation_id!r} added to {self.conversation_id!r}"
                )
        given = [m.position is not None for m in batch]
        if any(given) and not all(given):
            raise ValidationError("give a position to every message of a batch or to none")
        ids = [m.id for m in batch if m.id is not None]
        if len(ids) != len(set(ids)):
            raise ValidationError("a batch holds the same message id twice")
        return [
            m.stored(conversation_id=self.conversation_id, id=m.id if m.id is not None else new_message_id())
            for m in batch
        ]

    def edit_msg(
        self,
        message_id: str,
        *,
        content: Content = _UNSET,
        role: str = _UNSET,
        type: str = _UNSET,
        metadata: dict[str, Any] = _UNSET,
    ) -> Message:
        """Change fields of one message in place (position and created_at stay); returns it as stored."""
        current = self._own(message_id)
        changes = {
            name: value
            for name, value in {"content": content, "role": role, "type": type, "metadata": metadata}.items()
            if value is not _UNSET
        }
        updated = current.replace(**changes)
        self._backend.update_message(updated)
        return updated

    def delete_msg(self, message_id: str) -> Message:
        """Delete one message of this conversation and return it; NotFoundError if it is not here."""
        deleted = self._backend.delete_message(
            self.conversation_id, check_identifier(message_id, "message id")
        )
        if deleted is None:
            raise NotFoundError(f"no message {message_id!r} in conversation {self.conversation_id!r}")
        return deleted

    def clear(self) -> int:
        """Delete every message of the conversation (the conversation itself stays); returns how many."""
        return self._backend.clear(self.conversation_id)

    def move_oldest(self, count: int, to_conversation_id: str) -> list[Message]:
        """Move the oldest ``count`` messages to the end of another conversation, in one transaction.

        Fewer move if the conversation holds fewer (``count=0`` moves nothing). The moved messages keep their
        ids, roles, types, content, metadata and created_at and their order; they take the next positions of
        the target (created if missing), so they follow what the target already holds and never collide with
        its concurrent appenders. No reader, in any process, sees a message in both conversations or in
        neither. Returns the moved messages as stored in the target, oldest first.
        """
        check_count(count, "count", minimum=0)
        target = check_identifier(to_conversation_id, "to_conversation_id")
        if target == self.conversation_id:
            raise ValidationError(f"cannot move messages of {target!r} to the same conversation")
        return self._backend.take_oldest(self.conversation_id, count, target, datetime.now(timezone.utc))

    def delete_oldest(self, count: int | None) -> list[Message]:
        """Delete the oldest ``count`` messages (fewer if there are fewer; None: all) in one transaction;
        returns them, oldest first. The other face of :meth:`move_oldest`: the same operation with no
        destination. ``delete_oldest(None)`` is :meth:`clear` that also hands back what it deleted.
        """
        if count is not None:
            check_count(count, "count", minimum=0)
        return self._backend.take_oldest(self.conversation_id, count, None, datetime.now(timezone.utc))

    # -- reads --------------------------------------------------------------------------------------------

    def length(
        self,
        *,
        type_include: Iterable[str] | None = None,
        type_exclude: Iterable[str] | None = None,
        role_include: Iterable[str] | None = None,
        role_exclude: Iterable[str] | None = None,
        filter_meta: MetaFilter = None,
    ) -> int:
        """How many messages the conversation holds (matching the filters, if any)."""
        query, predicate = self._query(type_include, type_exclude, role_include, role_exclude, filter_meta)
        if predicate is None:
            return self._backend.count(self.conversation_id, query)
        return sum(1 for _ in self._stream(query, predicate, descending=False, page_size=STREAM_PAGE_SIZE))

    def get_msg(
        self,
        count: Count = None,
        *,
        type_include: Iterable[str] | None = None,
        type_exclude: Iterable[str] | None = None,
        role_include: Iterable[str] | None = None,
        role_exclude: Iterable[str] | None = None,
        filter_meta: MetaFilter = None,
        offset: int = 0,
    ) -> list[Message]:
        """Messages oldest first. ``count``: None all, ``n`` the first n, ``-n`` the last n,
        ``[page, size]`` page ``page`` (1-based) of ``size``; a negative page counts from the end, with pages
        aligned on the newest message: ``[-1, size]`` is the last ``size`` messages, ``[-2, size]`` the ones
        before them. ``offset`` skips that many first (for ``-n``: newest) messages, for windows that are not
        page-aligned; it does not combine with ``[page, size]``. Filters select before counting.
        """
        query, predicate = self._query(type_include, type_exclude, role_include, role_exclude, filter_meta)
        descending, skip, limit = _window(count)
        check_count(offset, "offset", minimum=0)
        check_count(offset + skip, "offset + page start", minimum=0)
        if offset and not (count is None or isinstance(count, int)):
            raise ValidationError("offset combines with an int or None count, not with [page, size]")
        offset += skip
        if predicate is None:
            found = self._backend.select(
                self.conversation_id, query.page(descending=descending, offset=offset, limit=limit)
            )
        else:
            page_size = STREAM_PAGE_SIZE if limit is None else max(limit + offset, 1)
            stream = self._stream(query, predicate, descending=descending, page_size=min(page_size, 5000))
            stop = None if limit is None else offset + limit
            found = list(itertools.islice(stream, offset, stop))
        return found[::-1] if descending else found

    def get_window(
        self,
        *,
        max_messages: int | None = None,
        max_tokens: int | None = None,
        token_counter: TokenCounter | None = None,
    ) -> list[Message]:
        """The newest messages that fit ``max_messages`` and ``max_tokens``, oldest first, never starting on
        a tool result nor splitting a tool call from its results (:mod:`memstore.stores.windows`).

        What a prompt's history should be: the chat models refuse a tool result without its call. Reads
        backwards in keyset pages (``max_messages`` rows at once for a count window, else 32, 64, ... rows)
        and stops at the first message that does not fit, so the cost follows the window, not the history.
        ``token_counter`` counts one message (default :func:`~memstore.stores.windows.approximate_tokens`,
        4 characters a token). Give at least one limit; each must be an int >= 1.
        """
        if max_messages is None and max_tokens is None:
            raise ValidationError("give max_messages, max_tokens or both")
        if max_messages is not None:
            check_count(max_messages, "max_messages", minimum=1)
        if max_tokens is not None:
            check_count(max_tokens, "max_tokens", minimum=1)
        if token_counter is not None and not callable(token_counter):
            raise ValidationError("token_counter must be a callable taking a Message")
        first = WINDOW_FIRST_PAGE if max_messages is None else min(max_messages, STREAM_PAGE_SIZE)
        return select_window(
            self._newest_first(first),
            max_messages=max_messages,
            max_tokens=max_tokens,
            token_counter=token_counter or approximate_tokens,
        )

    def _newest_first(self, first_page: int) -> Iterator[Message]:
        """Newest to oldest in keyset pages that double from ``first_page`` up to STREAM_PAGE_SIZE."""
        size, bound = first_page, None
        while True:
            page = self._backend.select(
                self.conversation_id, MessageQuery(before=bound, descending=True, limit=size)
            )
            yield from page
            if len(page) < size:
                return
            bound = page[-1].position
            size = min(size * 2, STREAM_PAGE_SIZE)

    def get_msg_by_cursor(
        self,
        cursor: str | None = None,
        count: int = 20,
        direction: Literal["forward", "backward"] = "backward",
    ) -> CursorPage:
        """One page of at most ``count`` messages next to ``cursor``, oldest first, and the next cursor.

        With no cursor, ``backward`` starts from the newest message and ``forward`` from the oldest; follow
        ``next_cursor`` until it is None. Cursors are opaque strings, stable under appends.
        """
        check_count(count, "count", minimum=1)
        if direction not in ("forward", "backward"):
            raise ValidationError("direction is 'forward' or 'backward'")
        bound = None if cursor is None else _position(cursor)
        if direction == "forward":
            query = MessageQuery(after=bound, limit=count + 1)
        else:
            query = MessageQuery(before=bound, descending=True, limit=count + 1)
        rows = self._backend.select(self.conversation_id, query)
        more = len(rows) > count
        rows = rows[:count]
        next_cursor = _cursor(rows[-1].position or 0) if more and rows else None
        return CursorPage(rows[::-1] if direction == "backward" else rows, next_cursor)

    def get_msgs_forward(
        self, from_msg_id: str | None = None, *, inclusive: bool = False, page_size: int = STREAM_PAGE_SIZE
    ) -> Iterator[Message]:
        """Stream messages oldest to newest, from just after ``from_msg_id`` (or the start), in pages."""
        return self._walk(from_msg_id, inclusive=inclusive, page_size=page_size, descending=False)

    def get_msgs_backward(
        self, from_msg_id: str | None = None, *, inclusive: bool = False, page_size: int = STREAM_PAGE_SIZE
    ) -> Iterator[Message]:
        """Stream messages newest to oldest, from just before ``from_msg_id`` (or the end), in pages."""
        return self._walk(from_msg_id, inclusive=inclusive, page_size=page_size, descending=True)

    def get_msg_by_id(self, message_id: str) -> Message:
        """One message of this conversation by id; NotFoundError if it is not here."""
        return self._own(message_id)

    def latest(self) -> Message | None:
        """The newest message, or None for an empty conversation."""
        found = self._backend.select(self.conversation_id, MessageQuery(descending=True, limit=1))
        return found[0] if found else None

    # -- helpers ------------------------------------------------------------------------------------------

    def _own(self, message_id: str) -> Message:
        message = self._backend.get_message(check_identifier(message_id, "message id"))
        if message is None or message.conversation_id != self.conversation_id:
            raise NotFoundError(f"no message {message_id!r} in conversation {self.conversation_id!r}")
        return message

    def _walk(
        self, from_msg_id: str | None, *, inclusive: bool, page_size: int, descending: bool
    ) -> Iterator[Message]:
        check_count(page_size, "page_size", minimum=1)
        bound = None
        if from_msg_id is not None:
            position = self._own(from_msg_id).position or 0
            step = (1 if descending else -1) if inclusive else 0
            bound = position + step
        query = MessageQuery(before=bound, descending=True) if descending else MessageQuery(after=bound)
        return self._stream(query, None, descending=descending, page_size=page_size)

    def _query(
        self,
        type_include: Iterable[str] | None,
        type_exclude: Iterable[str] | None,
        role_include: Iterable[str] | None,
        role_exclude: Iterable[str] | None,
        filter_meta: MetaFilter,
    ) -> tuple[MessageQuery, Callable[[dict[str, Any]], bool] | None]:
        predicate = None
        native: Filter | None = None
        if callable(filter_meta) and not isinstance(filter_meta, Mapping):
            predicate = filter_meta
        else:
            native = parse_filter(filter_meta)
        query = MessageQuery.build(
            type_include=type_include,
            type_exclude=type_exclude,
            role_include=role_include,
            role_exclude=role_exclude,
            meta=native,
        )
        return query, predicate

    def _stream(
        self,
        query: MessageQuery,
        predicate: Callable[[dict[str, Any]], bool] | None,
        *,
        descending: bool,
        page_size: int,
    ) -> Iterator[Message]:
        """Keyset-paged walk (positions as the key): memory stays flat however long the conversation."""
        bound_field = "before" if descending else "after"
        bound = getattr(query, bound_field)
        while True:
            page = self._backend.select(
                self.conversation_id,
                query.page(descending=descending, offset=0, limit=page_size, **{bound_field: bound}),
            )
            for message in page:
                if predicate is None or predicate(dict(message.metadata)):
                    yield message
            if len(page) < page_size:
                return
            bound = page[-1].position

    aadd_msg = to_async(add_msg)
    aadd_msgs = to_async(add_msgs)
    aedit_msg = to_async(edit_msg)
    adelete_msg = to_async(delete_msg)
    aclear = to_async(clear)
    amove_oldest = to_async(move_oldest)
    adelete_oldest = to_async(delete_oldest)
    areplace = to_async(replace)
    ainsert_msgs = to_async(insert_msgs)
    ainsert_msg = to_async(insert_msg)
    alength = to_async(length)
    aget_msg = to_async(get_msg)
    aget_msg_by_cursor = to_async(get_msg_by_cursor)
    aget_window = to_async(get_window)
    aget_msgs_forward = to_async_iter(get_msgs_forward)
    aget_msgs_backward = to_async_iter(get_msgs_backward)
    aget_msg_by_id = to_async(get_msg_by_id)
    alatest = to_async(latest)

    def __repr__(self) -> str:
        return f"BufferStore(conversation_id={self.conversation_id!r})"


def _window(count: Count) -> tuple[bool, int, int | None]:
    """(descending, offset, limit) for a ``count`` argument."""
    if count is None:
        return False, 0, None
    if isinstance(count, bool):
        raise ValidationError("count must be None, an int or [page, size]")
    if isinstance(count, int):
        check_count(abs(count), "count (either sign)", minimum=0)
        return (False, 0, count) if count >= 0 else (True, 0, -count)
    if isinstance(count, Sequence) and len(count) == 2:
        page, size = count
        check_count(size, "page size", minimum=1)
        if isinstance(page, bool) or not isinstance(page, int) or page == 0:
            raise ValidationError("page is a non-zero int (1 is the first page, -1 the last)")
        skip = (abs(page) - 1) * size
        check_count(skip, "(page - 1) * size", minimum=0)
        return page < 0, skip, size
    raise ValidationError("count must be None, an int or [page, size]")
