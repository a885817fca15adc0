"""Files memstore writes on a user's behalf (databases, exports, backups): private, never through a symlink,
never over the live database, and never truncated before the new content is complete.

A file is written beside its target under a temporary name created ``0600`` with ``O_EXCL | O_NOFOLLOW``,
then moved into place in one step: ``os.replace`` when overwriting is allowed, ``os.link`` otherwise (which
fails if the target appeared meanwhile). A crash or an error leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

from memstore.errors import ValidationError

__all__ = ["create_private", "private_file", "refuse_protected", "refuse_symlink"]

PRIVATE_MODE = 0o600
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def refuse_symlink(path: Path, what: str) -> None:
    """Raise ValidationError if ``path`` is a symbolic link (dangling ones included): writing through one
    would land in a file the user never named."""
    if path.is_symlink():
        raise ValidationError(f"{what} {str(path)!r} is a symbolic link: give the real path")


def refuse_protected(path: Path, protected: Iterable[Path], what: str) -> None:
    """Raise ValidationError if ``path`` names one of the ``protected`` files (the live database and its
    ``-wal``/``-shm`` companions), however it is spelled (relative, ``..``, hard link)."""
    for guarded in protected:
        same = path.resolve() == guarded.resolve()
        if not same and path.exists() and guarded.exists():
            same = os.path.samefile(path, guarded)
        if same:
            raise ValidationError(f"{what} {str(path)!r} is the live database {str(guarded)!r}: refused")


def create_private(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists (then leave it alone); True if created."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, PRIVATE_MODE))
    except FileExistsError:
        return False
    return True


@contextlib.contextmanager
def private_file(
    target: Path, *, overwrite: bool, what: str, protected: Iterable[Path] = ()
) -> Iterator[Path]:
    """Yield a new empty 0600 file beside ``target``; when the block succeeds it becomes ``target``.

    Refused up front (ValidationError, nothing written): a symlink target, a protected target, or an
    existing target without ``overwrite``.
    """
    refuse_symlink(target, what)
    refuse_protected(target, protected, what)
    if target.exists() and not overwrite:
        raise ValidationError(f"{what} {str(target)!r} exists: refused without overwrite (--force)")
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    if not create_private(staged):  # pragma: no cover - a 48-bit random name already taken
        raise ValidationError(f"could not create a temporary file beside {str(target)!r}")
    try:
        yield staged
        if overwrite:
            os.replace(staged, target)
        else:
            try:
                os.link(staged, target)
            except FileExistsError as exc:
                raise ValidationError(f"{what} {str(target)!r} appeared while writing: refused") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)
