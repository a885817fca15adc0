"""Forgetting a user: one call removes everything the store holds under a conversation id (or an id prefix).

What goes, and in what order:

1. the conversations named (``subject``, or every id starting with it) and the conversations derived from
   them under a reserved ``memstore:<kind>:<id>`` id (LlamaIndex's ``memstore:archive:<key>`` and
   ``memstore:recall:<session>``), with their messages, their keyword-index rows and their pending rows, in
   one transaction (:meth:`memstore.stores.memory_index.MemoryIndex.forget`);
2. the vectors of those messages, in every vector collection of the store (memory collections are keyed by
   message id);
3. the LangGraph checkpoints of the threads named the same way;
4. the KV entries under the given ``kv_prefixes`` (a LangGraph store namespace:
   ``MemstoreGraphStore.kv_prefixes(namespace)``), with the records of that KV namespace's vector index
   (the collection ``<kv namespace>.index``, whose records name their entry in an ``entry`` field).

Steps 2-4 follow the SQL transaction: should one fail, calling ``forget`` again finishes the work.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from memstore._validate import check_text
from memstore.backends.sql.database import chunks

if TYPE_CHECKING:
    from memstore.facade import Memstore
    from memstore.stores.vectors import VectorBackend

__all__ = ["ForgetReport", "forget"]

_PAGE = 1000


@dataclasses.dataclass(frozen=True)
class ForgetReport:
    """What :meth:`memstore.Memstore.forget` removed."""

    conversations: list[str]
    messages: int
    vectors: int
    checkpoints: int
    kv_entries: int


def _message_ids(store: Memstore, conversation_ids: Sequence[str]) -> list[str]:
    return [m.id or "" for cid in conversation_ids for m in store.buffer(cid).get_msgs_forward()]


def _delete_vectors(backend: VectorBackend, message_ids: list[str]) -> int:
    removed = 0
    for spec in backend.list_collections():
        before = backend.count(spec, None)
        for page in chunks(message_ids, _PAGE):
            backend.delete(spec, list(page))
        removed += before - backend.count(spec, None)
    return removed


def _delete_kv(store: Memstore, backend: VectorBackend | None, kv_prefixes: Mapping[str, Any]) -> int:
    from memstore.stores.vectors import scan_stored

    removed = 0
    specs = {} if backend is None else {spec.name: spec for spec in backend.list_collections()}
    for namespace, prefixes in kv_prefixes.items():
        kv = store.kv.namespace_store(namespace)
        chosen = [prefixes] if isinstance(prefixes, str) else list(prefixes)
        for key_prefix in (check_text(p, "KV key prefix") for p in chosen):
            if not key_prefix:
                continue  # an empty prefix would be the whole namespace: never by accident
            removed += kv.delete_by_prefix(key_prefix)
            index = specs.get(f"{namespace}.index")
            if backend is None or index is None or "entry" not in index.definition.data_names:
                continue
            doomed = [
                record.key
                for page in scan_stored(backend, index, None, False, _PAGE)
                for record in page
                if str(record.data.get("entry", "")).startswith(key_prefix)
            ]
            for page in chunks(doomed, _PAGE):
                backend.delete(index, list(page))
    return removed


def forget(
    store: Memstore,
    subject: str,
    *,
    prefix: bool = False,
    kv_prefixes: Mapping[str, str | Sequence[str]] | None = None,
) -> ForgetReport:
    """Remove everything of ``subject`` (a conversation id, or an id prefix with ``prefix=True``)."""
    targets = store.conversations.related_ids(subject, prefix=prefix)
    message_ids = _message_ids(store, targets)
    store.memory_index.forget(targets, message_ids)
    backend = store._vectors_in_use()  # never used: it holds nothing of anyone
    vectors = 0 if backend is None or not message_ids else _delete_vectors(backend, message_ids)
    checkpoints = (
        store.checkpoints.delete_by_prefix(subject)
        if prefix
        else store.checkpoints.delete_threads([subject, *targets])
    )
    kv_entries = _delete_kv(store, backend, kv_prefixes or {})
    return ForgetReport(targets, len(message_ids), vectors, checkpoints, kv_entries)
