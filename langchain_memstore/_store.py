"""How every adapter turns its ``store`` argument into a :class:`memstore.Memstore`, and who closes it."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

from memstore import Memstore

_Owner = TypeVar("_Owner", bound="StoreOwner")

StoreArg = Memstore | str | None
"""What the adapters accept as ``store``: a Memstore, a SQL URL, or None for the embedded default."""


def open_store(store: StoreArg) -> tuple[Memstore, bool]:
    """The Memstore to use and whether the adapter owns it (created it, so must close it).

    A given :class:`~memstore.Memstore` stays the caller's: the adapter never closes it. A str is a URL
    (``sqlite:///...``, ``postgresql://...``, ``memory://``) and None the embedded default
    (:data:`memstore.DEFAULT_URL`); in both cases the adapter created the Memstore and closes it.
    """
    if isinstance(store, Memstore):
        return store, False
    if store is None:
        return Memstore(), True
    if isinstance(store, str):
        return Memstore(store), True
    raise TypeError(f"store must be a memstore.Memstore, a URL str or None, not {type(store).__name__}")


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
