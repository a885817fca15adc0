"""No SQL is built by formatting strings: every statement is SQLAlchemy Core or a constant, values are bound.

The check reads the source with ``ast``: any call that executes raw SQL (``text``, ``exec_driver_sql``,
``execute`` on a DB-API cursor) must receive a constant, and no f-string, ``%`` or ``.format`` anywhere in the
library may produce text that looks like SQL.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    path
    for package in ("shared/memstore", "langchain_memstore", "llamaindex_memstore")
    for path in (ROOT / package).rglob("*.py")
)
RAW_SQL_CALLS = {"text", "exec_driver_sql", "execute", "executemany", "executescript", "literal_column"}
# Functions allowed to hand the driver a non-constant SQL text, each reviewed: the text must be SQLAlchemy's
# own compilation of a Core construct (values as bound parameters), never anything built from data.
COMPILED_FROM_CORE = {
    ("shared/memstore/backends/sql/database.py", "insert_many"),
    ("shared/memstore/backends/sql/database.py", "select_rows"),
}
SQL_WORDS = re.compile(r"\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|CREATE|DROP|ALTER|PRAGMA|WHERE|VALUES)\b")


def _is_constant(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.IfExp):
        return _is_constant(node.body) and _is_constant(node.orelse)
    return False


def _formatted_strings(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, literal text) of every f-string, ``%``-format and ``.format`` call in the tree."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            literal = "".join(
                v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
            found.append((node.lineno, literal))
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
        ):
            found.append((node.lineno, str(node.left.value)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant)
        ):
            found.append((node.lineno, str(node.func.value.value)))
    return found


def test_the_check_sees_the_library() -> None:
    assert len(SOURCES) > 10
    bad = ast.parse('conn.execute(text(f"SELECT * FROM t WHERE id = {user}"))')
    assert _violations(bad, "example")
    # The reviewed exemption covers exactly the named function of the named file.
    elsewhere = ast.parse("def insert_many(conn, sql):\n    conn.exec_driver_sql(sql)")
    assert _violations(elsewhere, "shared/memstore/backends/sql/chat.py")
    assert not _violations(elsewhere, "shared/memstore/backends/sql/database.py")
    formatted = ast.parse('def insert_many(conn, t):\n    conn.exec_driver_sql(f"DELETE FROM {t}")')
    assert _violations(formatted, "shared/memstore/backends/sql/database.py")


def _sql_callable(func: ast.expr) -> str:
    """The name of a raw-SQL entry point being called, or "" (``x.text(...)`` on other objects is not one)."""
    if isinstance(func, ast.Name):
        return func.id
    if not isinstance(func, ast.Attribute):
        return ""
    if func.attr in {"text", "literal_column"}:
        owner = func.value
        return func.attr if isinstance(owner, ast.Name) and owner.id in {"sa", "sqlalchemy", "sql"} else ""
    return func.attr


def _reviewed_lines(tree: ast.AST, name: str) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and (name, node.name) in COMPILED_FROM_CORE:
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _violations(tree: ast.AST, name: str) -> list[str]:
    problems: list[str] = []
    reviewed = _reviewed_lines(tree, name)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        called = _sql_callable(node.func)
        first = node.args[0]
        if called in RAW_SQL_CALLS and isinstance(first, ast.JoinedStr | ast.BinOp):
            problems.append(f"{name}:{node.lineno}: {called}() gets a formatted string")
        compiled = called == "exec_driver_sql" and node.lineno in reviewed
        if (
            called in {"text", "exec_driver_sql", "literal_column"}
            and not _is_constant(first)
            and not compiled
        ):
            problems.append(f"{name}:{node.lineno}: {called}() gets a non-constant")
    for line, literal in _formatted_strings(tree):
        if SQL_WORDS.search(literal):
            problems.append(f"{name}:{line}: a formatted string builds SQL-looking text: {literal[:60]!r}")
    return problems


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_sql_from_string_formatting(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    assert _violations(tree, str(path.relative_to(ROOT))) == []
