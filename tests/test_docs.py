"""The docs stay true to the code: docs/api.md is current, docs/cli.md covers the CLI, and every ```python
block of every docs/*.md page runs as pasted (alone, in a scratch folder, with no network).

A block that genuinely cannot run here (it needs a server, say) says so on its first line, visibly in the
rendered page: ``# Not run by the docs test: <reason>``; the test reports it as skipped with that reason,
and such blocks must stay rare.
"""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
import re
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
NOT_RUN = re.compile(r"^# Not run by the docs test: (?P<reason>\S.*)$")
MAX_NOT_RUN = 2


def _blocks() -> list[Any]:
    found = []
    for page in DOCS:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE):
            line = text.count("\n", 0, match.start()) + 1
            found.append(pytest.param(page, match.group(1), id=f"{page.name}:{line}"))
    return found


BLOCKS = _blocks()


def test_docs_have_python_blocks_and_few_exceptions() -> None:
    assert len(BLOCKS) >= 10
    not_run = [p.id for p in BLOCKS if NOT_RUN.match(p.values[1].partition("\n")[0])]
    assert len(not_run) <= MAX_NOT_RUN, f"too many blocks are not run: {not_run}"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No connection leaves this machine while a block runs (loopback stays open, for local servers)."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None:
            try:
                local = ipaddress.ip_address(host).is_loopback
            except ValueError:
                local = host == "localhost"
            if not local:
                raise OSError(f"the docs test is offline: a block tried to connect to {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def test_the_offline_guard_refuses_the_network(offline: None) -> None:
    with socket.socket() as sock, pytest.raises(OSError, match="offline"):
        sock.connect(("192.0.2.1", 80))  # TEST-NET-1: never routed


@pytest.mark.parametrize(("page", "code"), BLOCKS)
def test_docs_block_runs(
    page: Path, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: None
) -> None:
    first = NOT_RUN.match(code.partition("\n")[0])
    if first:
        pytest.skip(f"{page.name}: {first.group('reason')}")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    exec(compile(code, str(page), "exec"), namespace)
    for value in list(namespace.values()):  # release what the block opened (files, Chroma locks)
        close = getattr(value, "close", None)
        if callable(close) and type(value).__module__.split(".")[0] in (
            "memstore",
            "langchain_memstore",
            "llamaindex_memstore",
        ):
            close()


def test_api_reference_is_current() -> None:
    spec = importlib.util.spec_from_file_location("gen_api_docs", ROOT / "scripts" / "gen_api_docs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_api_docs"] = module
    spec.loader.exec_module(module)
    expected = module.render()
    assert "### `ConversationMemory`" in expected
    assert (ROOT / "docs" / "api.md").read_text(encoding="utf-8") == expected, "run `make docs`"


def test_cli_doc_covers_every_command_and_option() -> None:
    from memstore.memory.cli import _parser

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    parser = _parser()
    missing = []
    parsers = {"": parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers.update({f"{name} ": sub for name, sub in action.choices.items()})
    for prefix, sub in parsers.items():
        if prefix and f"## `memstore {prefix.strip()}`" not in text:
            missing.append(f"section for {prefix.strip()}")
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help") and option not in text:
                    missing.append(f"{prefix}{option}")
    assert missing == []
