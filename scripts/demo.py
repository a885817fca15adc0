"""`make demo`: a short end-to-end run on the embedded default (a SQLite file under ./memstore_data/).

No server and no network: everything lives in one folder you can delete afterwards.
"""

from __future__ import annotations

import logging
import uuid

from memstore import DEFAULT_URL, Memstore, Message, SemanticStore, get_default_embedder

logging.basicConfig(level=logging.INFO, format="%(message)s")
log = logging.getLogger("memstore.demo")


def main() -> None:
    with Memstore(DEFAULT_URL) as store:
        log.info("memstore demo on %s", DEFAULT_URL)

        session = f"demo-{uuid.uuid4().hex[:8]}"
        chat = store.buffer(session)
        chat.add_msgs(
            [
                Message(role="user", content="Hi! I'm Ada and I love graph databases."),
                Message(role="assistant", content="Nice to meet you, Ada."),
                Message(role="user", content="Remind me tomorrow about the Postgres migration."),
                Message(role="assistant", content="Noted.", type="tool_call", metadata={"tool": "reminder"}),
            ]
        )
        log.info("chat %s holds %d messages; the last two:", session, chat.length())
        for message in chat.get_msg(-2):
            log.info("  [%d] %-9s %s", message.position, message.role, message.content)
        tool_calls = chat.get_msg(type_include=["tool_call"], filter_meta={"tool": "reminder"})
        log.info("tool calls with tool=reminder: %d", len(tool_calls))

        # Semantic search with the offline MiniLM embedder over embedded Chroma (memstore_data/chroma).
        notes = SemanticStore(store.vectors, get_default_embedder())
        notes.add_docs(
            [
                ("n1", "Ada prefers PostgreSQL for production workloads."),
                ("n2", "The team lunch is on Friday at noon."),
                ("n3", "Graph databases model relationships as first-class edges."),
            ],
            table="demo-notes",
        )
        for note_id, score in notes.search("Which database does Ada like?", table="demo-notes", top_k=2):
            log.info("semantic hit %s (cosine %.2f)", note_id, score)
        notes.delete_table("demo-notes")

        kv = store.kv.namespace_store("demo")
        kv.mset({"user:ada:lang": "en", "user:ada:tz": "Europe/London"})
        log.info("kv user:ada:* -> %s", kv.get_by_prefix("user:ada:"))
        if kv.exclusive_set("job:nightly", "worker-a", expiry=5):
            log.info(
                "lease job:nightly won by worker-a; a second claim now returns %s",
                kv.exclusive_set("job:nightly", "worker-b", expiry=5),
            )
        kv.delete_by_prefix("")
        store.conversations.delete_conversation(session)
    log.info("done: the database stays in ./memstore_data/ (delete the folder to start afresh)")


if __name__ == "__main__":
    main()
