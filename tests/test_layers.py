"""The layers of docs/architecture.md, checked on the source: data flows down, nothing imports upward.

Imports are read with ``ast`` (every import, also those inside functions and under ``TYPE_CHECKING``), so a
lazy import cannot hide an upward dependency. Layers, bottom up: ``backends`` (with the pure core modules
they use), ``stores``, ``memory``, the facade, the adapters.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "shared" / "memstore"
ADAPTERS = {name: ROOT / name for name in ("langchain_memstore", "llamaindex_memstore")}

ADAPTER_MODULES = {
    "memstore": "the public API (__all__)",
    "memstore.embeddings": "Embedder, the embedder protocol",
    "memstore.filters": "the filter language the adapters translate to",
    "memstore.records": "record definitions and distances of vector collections",
    "memstore.memory": "ConversationMemory, ScoredMessage",
    "memstore.memory.conversation": "DEFAULT_COLLECTION, the collection Memstore.memory() uses",
    "memstore.stores.vectors": "VectorCollection, SearchResult, MAX_TOP_K",
    "memstore.validation": "the core's input checks, so adapters refuse exactly what the core refuses",
}
"""The core modules an adapter may import (public names only); anything else is an internal of the core."""


def _module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def _modules(root: Path, package: str) -> dict[str, Path]:
    return {_module_name(path, root, package): path for path in sorted(root.rglob("*.py"))}


def _resolve(module: str, level: int, current: str, is_package: bool) -> str:
    if level == 0:
        return module
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, module] if module else base)


def _imports(path: Path, current: str, *, top_level_only: bool = False) -> Iterator[tuple[str, str | None]]:
    """``(module, imported name or None)`` for each import in ``path``; with ``top_level_only`` only those
    run on import (module level, outside ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"

    def visit(nodes: list[ast.stmt]) -> Iterator[tuple[str, str | None]]:
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name, None
            elif isinstance(node, ast.ImportFrom):
                module = _resolve(node.module or "", node.level, current, is_package)
                for alias in node.names:
                    yield module, alias.name
            elif top_level_only:
                if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                    yield from visit(node.orelse)
                elif isinstance(node, ast.If | ast.Try | ast.With):
                    for field in ("body", "orelse", "finalbody", "handlers"):
                        for child in getattr(node, field, []):
                            yield from visit(child.body if isinstance(child, ast.ExceptHandler) else [child])
            else:
                yield from visit([c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)])

    yield from visit(tree.body)


def _targets(module: str, name: str | None, known: dict[str, Path]) -> list[str]:
    """The modules an import loads: ``from a import b`` is ``a.b`` when ``b`` is a submodule."""
    if name is not None and f"{module}.{name}" in known:
        return [f"{module}.{name}"]
    return [module]


CORE_MODULES = _modules(CORE, "memstore")


def _core_imports(prefix: str) -> Iterator[tuple[str, str]]:
    for module, path in CORE_MODULES.items():
        if module == prefix or module.startswith(prefix + "."):
            for target, name in _imports(path, module):
                for loaded in _targets(target, name, CORE_MODULES):
                    yield module, loaded


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_source_tree_is_where_the_test_looks() -> None:
    assert "memstore.backends.sql.keyword" in CORE_MODULES
    assert "memstore.memory.conversation" in CORE_MODULES


def test_no_backend_imports_the_stores_the_memory_layer_or_the_facade() -> None:
    upward = sorted(
        (module, target)
        for module, target in _core_imports("memstore.backends")
        if _within(target, ("memstore.stores", "memstore.memory", "memstore.facade"))
    )
    assert upward == []


def test_stores_never_import_memory_or_the_facade() -> None:
    upward = sorted(
        (module, target)
        for module, target in _core_imports("memstore.stores")
        if _within(target, ("memstore.memory", "memstore.facade"))
    )
    assert upward == []


def test_no_import_cycle_between_core_modules_at_import_time() -> None:
    """Module-level imports only (lazy imports inside functions and ``TYPE_CHECKING`` ones are allowed
    to point up): a cycle here would make the result of importing one module depend on import order."""
    graph: dict[str, set[str]] = {}
    for module, path in CORE_MODULES.items():
        edges = graph.setdefault(module, set())
        for target, name in _imports(path, module, top_level_only=True):
            for loaded in _targets(target, name, CORE_MODULES):
                if loaded in CORE_MODULES and loaded != module and not module.startswith(loaded + "."):
                    edges.add(loaded)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    # A package's __init__ importing its own submodules is how packages work; any other cycle is a bug.
    real = [c for c in cycles if not all(m.startswith(c[0] + ".") or m == c[0] for m in c)]
    assert real == []


@pytest.mark.parametrize("package", sorted(ADAPTERS))
def test_adapters_import_only_the_public_core(package: str) -> None:
    found: set[tuple[str, str | None]] = set()
    for module, path in _modules(ADAPTERS[package], package).items():
        for target, name in _imports(path, module):
            if _within(target, ("memstore",)):
                found.add((target, name))
    assert found, "the adapter imports the core"
    outside = sorted((m, n) for m, n in found if m not in ADAPTER_MODULES)
    assert outside == [], "add a module to ADAPTER_MODULES only if it is public API"
    private = sorted((m, n) for m, n in found if n is not None and n.startswith("_"))
    assert private == []
