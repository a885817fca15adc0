"""The generated and pasted docs stay true to the code: docs/api.md is current, docs/cli.md covers the CLI."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
