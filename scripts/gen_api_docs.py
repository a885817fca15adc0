"""Write docs/api.md, the API reference, from the public names and docstrings of the packages.

    python scripts/gen_api_docs.py          # rewrite docs/api.md
    python scripts/gen_api_docs.py --check  # exit 1 if docs/api.md is out of date (`make lint` runs this)

Why a script and not a docs site: the reference stays one Markdown file that GitHub renders, it is built
offline from the code itself, and `make lint` fails when a public signature or docstring changes without it.
Each documented name is a public export (``__all__``); for classes, every public method defined in this
project (not inherited from LangChain or LlamaIndex) is listed with its signature and docstring, and the async
twin ``aname`` of a method ``name`` is named beside it instead of repeated.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "api.md"
OURS = ("memstore", "langchain_memstore", "llamaindex_memstore")

# (section title, module, names, a sentence on why the section exists)
SECTIONS: list[tuple[str, str, list[str], str]] = [
    (
        "The facade",
        "memstore",
        ["Memstore", "RestoreReport", "ForgetReport", "open_store", "DEFAULT_URL", "MEMORY_URL"],
        "One object per database: it opens the stores lazily and closes them together.",
    ),
    (
        "Input checks",
        "memstore.validation",
        ["check_count", "check_number", "check_text", "check_identifier", "check_json", "check_json_object"],
        "The checks every store applies, public so that adapters and applications refuse exactly the same.",
    ),
    (
        "Messages",
        "memstore",
        ["Message"],
        "The one message type every store and adapter converts to and from.",
    ),
    (
        "Chat history: buffer store and conversations",
        "memstore",
        [
            "BufferStore",
            "CursorPage",
            "ConversationManager",
            "ConversationPage",
            "Conversation",
            "Platform",
            "TokenCounter",
            "approximate_tokens",
        ],
        "Windowed, indexed reads of one conversation, and the list of conversations.",
    ),
    (
        "Key-value store",
        "memstore",
        ["KVStore", "KVValue"],
        "Small durable state, TTLs and a cross-process lease (`exclusive_set`).",
    ),
    (
        "Checkpoints",
        "memstore",
        ["CheckpointStore", "StoredCheckpoint", "CheckpointWrite", "Blob"],
        "Workflow checkpoints (LangGraph's short-term memory): each value stored once per version.",
    ),
    (
        "Vectors",
        "memstore",
        ["VectorStore", "VectorCollection", "LazyCollection", "SearchResult", "SemanticStore"],
        "Typed record collections over Chroma, SQL or memory, and text search on top of them.",
    ),
    (
        "Records and filters",
        "memstore",
        [
            "RecordDefinition",
            "KeyField",
            "VectorField",
            "DataField",
            "RecordMapper",
            "Eq",
            "In",
            "Range",
            "And",
            "Or",
            "Not",
        ],
        "How a vector collection's records are described, and the backend-neutral filter language.",
    ),
    (
        "Embedders",
        "memstore",
        ["Embedder", "get_default_embedder", "MiniLMEmbedder", "HashingEmbedder"],
        "Offline text embedders: nothing is downloaded at run time.",
    ),
    (
        "Conversation memory",
        "memstore.memory",
        ["ConversationMemory", "ScoredMessage", "MemoryStats", "UnsupportedOperation"],
        "Hybrid recall, retention, stats, backup, export and import over chat messages.",
    ),
    (
        "Migrations",
        "memstore.memory.migrate",
        ["migrate", "MigrationReport", "SOURCES"],
        "Moving history in from JSON files, LangChain and LlamaIndex stores (see migration.md).",
    ),
    (
        "Ranking",
        "memstore.memory.ranking",
        ["fuse", "recency_decay"],
        "The score fusion recall uses, for callers who tune it.",
    ),
    (
        "The command line",
        "memstore.memory.cli",
        ["main"],
        "The `memstore` console script (see cli.md).",
    ),
    (
        "Errors",
        "memstore.errors",
        ["MemstoreError", "ValidationError", "NotFoundError", "ConflictError", "BackendError"],
        "Every error memstore raises derives from `MemstoreError`.",
    ),
    (
        "LangChain / LangGraph adapter (`langchain_memstore`)",
        "langchain_memstore",
        [
            "MemstoreChatMessageHistory",
            "MemstoreMemoryRetriever",
            "MemstoreVectorStore",
            "MemstoreEmbeddings",
            "LangChainEmbedder",
            "MemstoreByteStore",
            "MemstoreGraphStore",
            "MemstoreCheckpointSaver",
            "ForeignDataError",
            "to_memstore",
            "from_memstore",
            "METADATA_KEY",
        ],
        "LangChain's interfaces over the core; see langchain.md.",
    ),
    (
        "LlamaIndex adapter (`llamaindex_memstore`)",
        "llamaindex_memstore",
        [
            "MemstoreChatStore",
            "MemstoreMemoryChatStore",
            "MemstoreVectorStore",
            "MemstoreKVStore",
            "MemstoreMemoryBlock",
            "MemstoreEmbedding",
            "LlamaIndexEmbedder",
            "to_chat_message",
            "to_memstore_message",
            "to_memstore_filter",
        ],
        "LlamaIndex's interfaces over the core; see llamaindex.md.",
    ),
]

_ROLE = re.compile(r":(?:class|meth|func|attr|data|mod|exc|obj):`~?([^`]+)`")


def _markdown(docstring: str) -> str:
    """reST-flavoured docstring text as Markdown: ``code`` -> `code`, :class:`~a.B` -> `B`."""

    def role(match: re.Match[str]) -> str:
        target = match.group(1)
        return f"`{target.rsplit('.', 1)[-1] if match.group(0).count('~') else target}`"

    text = _ROLE.sub(role, docstring)
    text = text.replace("``", "`")
    lines = text.splitlines()
    out: list[str] = []
    in_code = False
    for line in lines:
        if line.rstrip().endswith("::") and not in_code:
            out.append(line.rstrip()[:-1] if not line.rstrip().endswith(" ::") else line.rstrip()[:-3])
            out.append("")
            out.append("```text")
            in_code = True
            continue
        if in_code and line.strip() and not line.startswith("    "):
            out.append("```")
            in_code = False
        out.append(line[4:] if in_code and line.startswith("    ") else line)
    if in_code:
        while out and not out[-1].strip():
            out.pop()
        out.append("```")
    return "\n".join(out).strip()


def _annotation(value: Any) -> str:
    if value is inspect.Parameter.empty:
        return ""
    if isinstance(value, str):
        return value
    return inspect.formatannotation(value)


def _default(value: Any) -> str:
    if isinstance(value, type):
        return value.__name__
    text = repr(value)
    return "..." if " at 0x" in text or len(text) > 60 else text


def _signature(obj: Callable[..., Any], *, drop_self: bool) -> str:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    parts: list[str] = []
    seen_keyword_only = False
    params = list(signature.parameters.values())
    if drop_self and params and params[0].name in ("self", "cls"):
        params = params[1:]
    for index, param in enumerate(params):
        if param.kind is param.KEYWORD_ONLY and not seen_keyword_only:
            seen_keyword_only = True
            if index == 0 or params[index - 1].kind is not param.VAR_POSITIONAL:
                parts.append("*")
        name = param.name
        if param.kind is param.VAR_POSITIONAL:
            name = "*" + name
            seen_keyword_only = True
        elif param.kind is param.VAR_KEYWORD:
            name = "**" + name
        annotation = _annotation(param.annotation)
        text = f"{name}: {annotation}" if annotation else name
        if param.default is not param.empty:
            text += f" = {_default(param.default)}" if annotation else f"={_default(param.default)}"
        parts.append(text)
    result = f"({', '.join(parts)})"
    returned = _annotation(signature.return_annotation)
    return f"{result} -> {returned}" if returned and returned != "None" else result


def _ours(cls: type) -> list[type]:
    return [c for c in cls.__mro__ if c.__module__.split(".")[0] in OURS]


def _methods(cls: type) -> list[tuple[str, Any, type]]:
    found: dict[str, tuple[Any, type]] = {}
    for owner in reversed(_ours(cls)):
        for name, value in vars(owner).items():
            if name.startswith("_") and name != "__init__":
                continue
            found[name] = (value, owner)
    return [(name, value, owner) for name, (value, owner) in sorted(found.items())]


def _first_paragraph(docstring: str | None) -> str:
    return _markdown(inspect.cleandoc(docstring)) if docstring else ""


def _document_class(name: str, cls: type) -> list[str]:
    bases = [b.__name__ for b in cls.__bases__ if b is not object]
    title = f"### `{name}`" + (f" ({', '.join(f'`{b}`' for b in bases)})" if bases else "")
    lines = [title, ""]
    init = vars(cls).get("__init__")
    if init is not None and init is not object.__init__:
        lines += ["```text", f"{name}{_signature(init, drop_self=True)}", "```", ""]
    if cls.__doc__:
        lines += [_first_paragraph(cls.__doc__), ""]
    if issubclass(cls, BaseException):
        return lines
    fields = getattr(cls, "__dataclass_fields__", None)
    if fields:
        lines += ["Fields: " + ", ".join(f"`{f}`" for f in fields), ""]
    methods = [(n, v, o) for n, v, o in _methods(cls) if n != "__init__"]
    names = {n for n, _, _ in methods}
    for method_name, value, _owner in methods:
        if method_name.startswith("a") and method_name[1:] in names:
            continue  # an async twin, named beside its sync method
        twin = f" · async: `a{method_name}`" if f"a{method_name}" in names else ""
        if isinstance(value, property):
            lines += [f"- **`{method_name}`** (property){twin}"]
            doc = value.fget.__doc__ if value.fget else None
        elif isinstance(value, staticmethod | classmethod):
            function = value.__func__
            kind = "classmethod" if isinstance(value, classmethod) else "staticmethod"
            lines += [f"- **`{method_name}{_signature(function, drop_self=True)}`** ({kind}){twin}"]
            doc = function.__doc__
        elif inspect.isfunction(value):
            lines += [f"- **`{method_name}{_signature(value, drop_self=True)}`**{twin}"]
            doc = value.__doc__
        else:
            continue
        if doc:
            body = _first_paragraph(doc)
            lines += ["", *(f"  {line}" if line else "" for line in body.splitlines()), ""]
    if lines[-1] != "":
        lines.append("")
    return lines


def _document(name: str, obj: Any) -> list[str]:
    if inspect.isclass(obj):
        return _document_class(name, obj)
    if callable(obj):
        lines = [f"### `{name}`", "", "```text", f"{name}{_signature(obj, drop_self=False)}", "```", ""]
        if obj.__doc__:
            lines += [_first_paragraph(obj.__doc__), ""]
        return lines
    return [f"### `{name}`", "", f"Constant: `{obj!r}`", ""]


def render() -> str:
    lines = [
        "# API reference",
        "",
        "Generated from the code by `scripts/gen_api_docs.py` (do not edit by hand: `make lint` checks it",
        "is current; `make docs` rewrites it). Every method with an async twin says so (`name` · async:",
        "`aname`): the twin takes the same arguments and is derived from the same implementation. Guides:",
        "[memory.md](memory.md), [langchain.md](langchain.md), [llamaindex.md](llamaindex.md),",
        "[cli.md](cli.md), [migration.md](migration.md), [architecture.md](architecture.md).",
        "",
        "## Contents",
        "",
    ]
    for title, module, _, _ in SECTIONS:
        anchor = re.sub(r"[^a-z0-9_ -]", "", title.lower()).replace(" ", "-")
        lines.append(f"- [{title}](#{anchor}) (`{module}`)")
    lines.append("")
    for title, module_name, names, why in SECTIONS:
        module = importlib.import_module(module_name)
        lines += [f"## {title}", "", f"`{module_name}`: {why}", ""]
        for name in names:
            lines += _document(name, getattr(module, name))
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/api.md is out of date")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "shared"))
    text = render()
    if args.check:
        if not TARGET.is_file() or TARGET.read_text(encoding="utf-8") != text:
            sys.stderr.write("docs/api.md is out of date: run `python scripts/gen_api_docs.py`\n")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
