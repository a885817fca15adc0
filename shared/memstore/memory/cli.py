"""The ``memstore`` command: inspect, search, prune, back up, export, import and migrate a memory.

    memstore --url sqlite:///memstore_data/memstore.db stats
    memstore search "where does my sister live" -k 5
    memstore migrate --from langchain-sql sqlite:///old.db
    memstore prune-threads --idle-days 30      # LangGraph checkpoint threads nobody touched in 30 days

Exit codes: 0 success, 1 a memstore or backend error, 2 a usage error (argparse), 3 a missing file or
database, 4 an operation this backend does not offer (e.g. ``backup`` on PostgreSQL: use ``pg_dump``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["main"]

EXIT_ERROR, EXIT_USAGE, EXIT_MISSING, EXIT_UNSUPPORTED = 1, 2, 3, 4
CREATES_DATABASE = {"import", "migrate", "restore"}
RELATED_SCOPE = {"search", "export", "index"}


def _datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _parser() -> argparse.ArgumentParser:
    from memstore.facade import DEFAULT_URL
    from memstore.memory.migrate import SOURCES

    parser = argparse.ArgumentParser(
        prog="memstore",
        description="Inspect and manage a memstore conversation memory.",
        epilog="Exit codes: 0 ok, 1 error, 2 usage, 3 missing file or database, 4 unsupported here.",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("MEMSTORE_URL", DEFAULT_URL),
        help="database URL (sqlite:///path.db, postgresql://...; default $MEMSTORE_URL or %(default)s)",
    )
    parser.add_argument(
        "--vectors", help="vector backend: chroma:///dir, chroma+http://host:port, sql, memory"
    )
    parser.add_argument("--collection", default="memstore-memory", help="vector collection of the memory")
    parser.add_argument("-c", "--conversation", help="limit to one conversation (default: all)")
    parser.add_argument(
        "--embedder",
        choices=["minilm", "hashing"],
        default="minilm",
        help="minilm (offline MiniLM, the default) or hashing (no model; tests and quick trials)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    stats = commands.add_parser("stats", help="counts per conversation, role and type; dates; size")
    stats.add_argument("--json", action="store_true", help="print JSON")

    search = commands.add_parser("search", help="hybrid recall: the messages best matching a query")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=10, help="how many results (default 10)")
    search.add_argument("--role", action="append", help="only this role (repeatable)")
    search.add_argument("--type", action="append", help="only this message type (repeatable)")
    search.add_argument("--since", type=_datetime, help="created at or after (ISO 8601)")
    search.add_argument("--until", type=_datetime, help="created before (ISO 8601)")
    search.add_argument("--min-score", type=float, help="drop results scoring below this (0..1)")
    search.add_argument("--context", type=int, default=0, help="neighbouring turns around each hit")
    search.add_argument("--json", action="store_true", help="print JSON lines")

    export = commands.add_parser("export", help="write the messages to a new JSONL file")
    export.add_argument("path", type=Path)
    export.add_argument("--force", action="store_true", help="replace the file if it exists")
    imported = commands.add_parser("import", help="add the messages of a JSONL file written by export")
    imported.add_argument("path", type=Path)

    migrate = commands.add_parser("migrate", help="copy chat history from another store (backs up first)")
    migrate.add_argument("--from", dest="kind", required=True, choices=SOURCES, help="the source's kind")
    migrate.add_argument("source", help="a file (json, llamaindex-simple) or a SQLAlchemy URL (*-sql)")
    migrate.add_argument("--table", help="source table (default message_store / llama_index_memory)")
    migrate.add_argument("--no-backup", action="store_true", help="skip the backup of a SQLite target")

    backup = commands.add_parser("backup", help="copy the SQLite database to a file (online backup)")
    backup.add_argument("path", type=Path)
    restore = commands.add_parser("restore", help="replace the SQLite database with a backup")
    restore.add_argument("path", type=Path)

    forget = commands.add_parser(
        "delete", help="forget a user: their conversations, messages, index rows, vectors, checkpoints"
    )
    forget.add_argument("subject", help="a conversation / session / thread id (a prefix with --prefix)")
    forget.add_argument("--prefix", action="store_true", help="every id starting with SUBJECT")
    forget.add_argument(
        "--kv",
        action="append",
        default=[],
        metavar="NAMESPACE=PREFIX",
        help="also delete the KV entries of NAMESPACE whose key starts with PREFIX (repeatable), e.g. a "
        "LangGraph store namespace: --kv langgraph_store=users.42.",
    )

    commands.add_parser(
        "index", help="index for recall the messages written without a memory (buffers, chat stores)"
    )

    prune = commands.add_parser("prune", help="delete messages older than some days, with their index")
    prune.add_argument("--older-than", type=float, required=True, metavar="DAYS", help="age in days")

    threads = commands.add_parser(
        "prune-threads", help="delete LangGraph checkpoint threads idle for more than some days"
    )
    threads.add_argument(
        "--idle-days",
        type=float,
        required=True,
        metavar="DAYS",
        help="delete threads whose newest checkpoint is older than this",
    )
    threads.add_argument("--dry-run", action="store_true", help="list the idle threads, delete nothing")
    return parser


def _missing_database(url: str) -> str | None:
    """The path of a SQLite file URL whose file does not exist, else None."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return None if Path(parsed.database).exists() else parsed.database


def _run(args: argparse.Namespace) -> int:
    from memstore import HashingEmbedder, Memstore, MemstoreError
    from memstore.memory import ConversationMemory

    if args.command not in CREATES_DATABASE:
        from memstore._validate import mask_password

        try:
            missing = _missing_database(args.url)
        except Exception as exc:
            raise MemstoreError(
                f"bad database URL {mask_password(args.url)!r}; try sqlite:///path/to/file.db"
            ) from exc
        if missing is not None:
            print(f"memstore: error: no database at {missing!r} (check --url)", file=sys.stderr)
            return EXIT_MISSING
    embedder: Any = HashingEmbedder() if args.embedder == "hashing" else None
    with Memstore(args.url, vectors=args.vectors) as store:
        if args.command == "prune-threads":  # checkpoints only: no memory, no embedder
            return _prune_threads(args, store)
        # -c names a conversation together with the ones adapters derive from it (LlamaIndex archives):
        # search, export and index read them all; the other commands keep to the conversation itself.
        spans = args.conversation is not None and args.command in RELATED_SCOPE
        bound = None if spans else args.conversation
        memory = ConversationMemory(store, bound, embedder=embedder, collection=args.collection)
        scope = store.conversations.related_ids(args.conversation) if spans else None
        return _command(args, memory, scope)


def _prune_threads(args: argparse.Namespace, store: Any) -> int:
    """Retention of LangGraph threads: a thread is idle when its newest checkpoint is older than DAYS."""
    if args.dry_run:
        idle = store.checkpoints.idle_threads(args.idle_days)
        for thread_id in idle:
            print(thread_id)
        print(f"{len(idle)} threads idle for more than {args.idle_days:g} days (dry run: nothing deleted)")
    else:
        deleted = store.checkpoints.delete_idle_threads(args.idle_days)
        print(f"deleted {deleted} threads idle for more than {args.idle_days:g} days")
    return 0


def _shown(conversation_id: str) -> str:
    """A conversation as users know it: ``key (archive)`` for the derived ``memstore:archive:key``."""
    from memstore.stores.conversations import derived_owner

    derived = derived_owner(conversation_id)
    return conversation_id if derived is None else f"{derived[1]} ({derived[0]})"


def _command(args: argparse.Namespace, memory: Any, scope: list[str] | None) -> int:
    command = args.command
    if command == "stats":
        stats = memory.stats()
        values = {
            "messages": stats.messages,
            "conversations": stats.conversations,
            "roles": stats.roles,
            "types": stats.types,
            "first_at": None if stats.first_at is None else stats.first_at.isoformat(),
            "last_at": None if stats.last_at is None else stats.last_at.isoformat(),
            "pending": stats.pending,
            "vectors": stats.vectors,
            "storage_bytes": stats.storage_bytes,
            "kv_namespaces": memory.store.kv.namespaces(),
            "vector_collections": memory.store.vectors.collection_sizes(),
        }
        if args.json:
            print(json.dumps(values, ensure_ascii=False))
        else:
            for name, value in values.items():
                if isinstance(value, dict):
                    value = ", ".join(f"{key}={count}" for key, count in value.items()) or "-"
                print(f"{name:<18} {value}")
    elif command == "search":
        hits = memory.recall(
            args.query,
            args.k,
            conversation_ids=scope,
            roles=args.role,
            types=args.type,
            since=args.since,
            until=args.until,
            min_score=args.min_score,
            context=args.context,
        )
        for hit in hits:
            m = hit.message
            if args.json:
                record = {"score": round(hit.score, 6), "id": m.id, "conversation_id": m.conversation_id}
                record["conversation"] = _shown(m.conversation_id or "")
                record.update(position=m.position, role=m.role, type=m.type, text=m.text, metadata=m.metadata)
                record["created_at"] = None if m.created_at is None else m.created_at.isoformat()
                print(json.dumps(record, ensure_ascii=False))
            else:
                print(f"{hit.score:.3f}  [{_shown(m.conversation_id or '')}#{m.position} {m.role}] {m.text}")
    elif command == "export":
        written = memory.export(
            args.path, conversation_ids=scope, overwrite=args.force, progress=sys.stderr.isatty()
        )
        print(f"exported {written} messages to {args.path}")
    elif command == "import":
        if not args.path.is_file():
            print(f"memstore: error: no file {str(args.path)!r}", file=sys.stderr)
            return EXIT_MISSING
        print(f"imported {memory.import_(args.path, progress=sys.stderr.isatty())} messages")
    elif command == "migrate":
        from memstore.memory.migrate import migrate

        report = migrate(
            memory,
            args.kind,
            args.source,
            table=args.table,
            backup=not args.no_backup,
            progress=sys.stderr.isatty(),
        )
        if report.backup is not None:
            print(f"backup: {report.backup}")
        print(f"migrated {report.messages} messages in {report.conversations} conversations")
    elif command == "backup":
        print(f"backup written to {memory.backup(args.path)}")
    elif command == "restore":
        reindexed = memory.restore(args.path)
        print(f"restored from {args.path}" + (f" ({reindexed} messages re-indexed)" if reindexed else ""))
    elif command == "index":
        print(f"indexed {memory.index_history(scope)} messages")
    elif command == "delete":
        from memstore.errors import ValidationError

        kv: dict[str, list[str]] = {}
        for pair in args.kv:
            namespace, equals, key_prefix = pair.partition("=")
            if not equals or not namespace or not key_prefix:
                raise ValidationError(f"--kv takes NAMESPACE=PREFIX, not {pair!r}")
            kv.setdefault(namespace, []).append(key_prefix)
        report = memory.store.forget(args.subject, prefix=args.prefix, kv_prefixes=kv)
        print(
            f"deleted {len(report.conversations)} conversations, {report.messages} messages, "
            f"{report.vectors} vectors, {report.checkpoints} checkpoints, {report.kv_entries} KV entries"
        )
    elif command == "prune":
        print(f"deleted {memory.delete_older_than(args.older_than)} messages")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``memstore`` command; returns its exit code."""
    args = _parser().parse_args(argv)
    from memstore.errors import MemstoreError, NotFoundError
    from memstore.memory import UnsupportedOperation

    try:
        return _run(args)
    except UnsupportedOperation as exc:
        print(f"memstore: error: {exc}", file=sys.stderr)
        return EXIT_UNSUPPORTED
    except NotFoundError as exc:
        print(f"memstore: error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return EXIT_MISSING
    except MemstoreError as exc:
        print(f"memstore: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # a file the command reads or writes: say which, no traceback
        print(f"memstore: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
