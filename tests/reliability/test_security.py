"""No database password in any repr, log line or error message (issue 16, "security").

The test PostgreSQL trusts loopback connections, so a URL with any password opens it: every object built
from such a URL is printed and its messages are read, and the password must appear nowhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from memstore import Memstore, MemstoreError, ValidationError
from memstore._validate import mask_password
from memstore.memory.cli import main

SECRET = "s3cr3t-pw"


@pytest.fixture
def secret_url(postgresql_url: str) -> str:
    return make_url(postgresql_url).set(password=SECRET).render_as_string(hide_password=False)


def _adapters() -> list[tuple[str, Callable[[str], Any]]]:
    from langchain_memstore import MemstoreByteStore, MemstoreChatMessageHistory, MemstoreGraphStore
    from llamaindex_memstore import MemstoreChatStore, MemstoreKVStore, MemstoreMemoryChatStore

    return [
        ("Memstore", lambda url: Memstore(url, vectors="sql")),
        ("Database", lambda url: Memstore(url, vectors="sql").database),
        ("MemstoreChatMessageHistory", lambda url: MemstoreChatMessageHistory("s", store=url)),
        ("MemstoreByteStore", lambda url: MemstoreByteStore(store=url)),
        ("MemstoreGraphStore", lambda url: MemstoreGraphStore(store=url)),
        ("MemstoreChatStore", lambda url: MemstoreChatStore(url)),
        ("MemstoreKVStore", lambda url: MemstoreKVStore(url)),
        ("MemstoreMemoryChatStore", lambda url: MemstoreMemoryChatStore(url)),
    ]


@pytest.mark.postgres
@pytest.mark.parametrize(("name", "build"), _adapters(), ids=[name for name, _ in _adapters()])
def test_no_repr_shows_the_password(secret_url: str, name: str, build: Callable[[str], Any]) -> None:
    built = build(secret_url)
    try:
        shown = repr(built) + str(built)
        assert SECRET not in shown, f"{name} shows the password: {shown}"
        store = getattr(built, "store", None)
        if store is not None:
            assert SECRET not in repr(store)
    finally:
        close = getattr(built, "close", None)
        if close is not None:
            close()


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://user:{SECRET}@localhost:99999/db",  # a bad port
        f"postgresql://user:{SECRET}@localhost:port/db",  # not a number
        f"mysql://user:{SECRET}@localhost/db",  # an unsupported database
        f"postgresql+nosuchdriver://user:{SECRET}@localhost/db",  # an unknown driver
    ],
)
def test_url_errors_never_show_the_password(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Memstore(url)
    assert SECRET not in str(caught.value)
    assert "***" in str(caught.value)


def test_a_refused_connection_never_shows_the_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(MemstoreError) as caught:
        Memstore(f"postgresql://user:{SECRET}@127.0.0.1:1/db", vectors="sql")
    assert SECRET not in str(caught.value)
    assert SECRET not in caplog.text


def test_the_cli_never_prints_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    for url in (f"postgresql://user:{SECRET}@localhost:99999/db", f"nonsense://user:{SECRET}@x/db"):
        assert main(["--url", url, "stats"]) == 1
        captured = capsys.readouterr()
        assert SECRET not in captured.out + captured.err
        assert "memstore: error:" in captured.err


def test_mask_password_covers_text_and_url_objects() -> None:
    assert mask_password(f"postgresql://u:{SECRET}@h:5432/db?sslmode=require") == (
        "postgresql://u:***@h:5432/db?sslmode=require"
    )
    assert mask_password(make_url(f"postgresql://u:{SECRET}@h/db")) == "postgresql://u:***@h/db"
    assert mask_password("sqlite:///data/app.db") == "sqlite:///data/app.db"
    assert mask_password("postgresql://u@h/db") == "postgresql://u@h/db"
