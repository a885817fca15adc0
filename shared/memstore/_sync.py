"""The one bridge between the sync core and its async twins.

memstore is sync at its core: on SQLite a sync SQLAlchemy call costs 1.4-5x a raw ``sqlite3`` query while the
async driver stack costs 28-90x (docs/architecture.md has the table). Every operation is therefore written
once, synchronously, and its ``a``-prefixed twin is derived here: it runs the same function in a worker
thread so the event loop never blocks. Declaring a twin is one line in the class body::

    class KVStore:
        def get(self, key: str) -> bytes | str | None: ...
        aget = to_async(get)

Sync methods touch no event loop, so they also work inside a running one (Jupyter, ``asyncio.run``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

__all__ = ["to_async", "to_async_iter"]

S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def _name_twin(twin: Any, fn: Callable[..., Any]) -> None:
    twin.__module__ = fn.__module__
    twin.__wrapped__ = fn
    twin.__name__ = "a" + fn.__name__
    twin.__qualname__ = (
        fn.__qualname__.rpartition(".")[0] + "." + twin.__name__ if "." in fn.__qualname__ else twin.__name__
    )
    twin.__doc__ = f"Async twin of :meth:`{fn.__name__}`: the same operation, run in a worker thread."


def to_async(
    fn: Callable[Concatenate[S, P], R],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """Derive the async twin of a sync method; it runs ``fn`` via :func:`asyncio.to_thread`."""

    async def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(fn, self, *args, **kwargs)

    _name_twin(twin, fn)
    return twin


_DONE = object()


def to_async_iter(
    fn: Callable[Concatenate[S, P], Iterator[T]],
) -> Callable[Concatenate[S, P], AsyncIterator[T]]:
    """Derive the async-generator twin of a sync generator method.

    Each step of the sync iterator runs in a worker thread, so a generator that streams pages from the
    database streams them the same way to ``async for``.
    """

    async def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T]:
        iterator = await asyncio.to_thread(fn, self, *args, **kwargs)
        try:
            while True:
                item = await asyncio.to_thread(next, iterator, _DONE)
                if item is _DONE:
                    return
                yield item  # type: ignore[misc]
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                await asyncio.to_thread(close)

    _name_twin(twin, fn)
    return twin
