"""How every adapter turns its ``store`` argument into a :class:`memstore.Memstore`, and who closes it."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

from memstore import Memstore, StoreArg, open_store

__all__ = ["StoreArg", "StoreOwner", "open_store"]  # the core's open_store: one rule for every adapter

_Owner = TypeVar("_Owner", bound="StoreOwner")


class StoreOwner:
    """Closing for adapters: releases the Memstore only if the adapter created it.

    Subclasses set ``_store`` and ``_owns_store`` (from :func:`open_store`) in their constructor.
    """

    _store: Memstore
    _owns_store: bool

    def close(self) -> None:
        """Release the store if this object created it (a Memstore passed in stays open). Idempotent."""
        if self._owns_store:
            self._store.close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        if self._owns_store:
            await self._store.aclose()

    def __enter__(self: _Owner) -> _Owner:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self: _Owner) -> _Owner:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
