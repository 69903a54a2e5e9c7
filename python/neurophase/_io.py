"""Atomic file writes: a temporary file in the target's folder, then a rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _temporary(target: Path) -> Iterator[tuple[IO[bytes], str]]:
    fd, tmp = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as f:
            yield f, tmp
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomically(
    path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]
) -> None:
    """Call ``write(file)`` on a temporary file, then rename it to ``path``.

    A reader (or a crash) sees either the old file or the complete new one. The
    file gets the usual permissions (0666 less the umask), not mkstemp's 0600.

    Raises
    ------
    OSError
        If the folder of ``path`` does not exist or cannot be written; the message
        names ``path``.
    """
    target = Path(path)
    check_writable(target)
    try:
        with _temporary(target) as (f, tmp):
            write(f)
            f.flush()
            os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, target)
    except OSError as exc:
        # The temporary file's name means nothing to the caller: name the target.
        raise OSError(f"cannot write {target}: {exc.strerror or exc}") from None


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise OSError naming ``path`` unless it can be written as a file.

    Besides the folder's existence, a probe file is created (and removed) next
    to ``path``: permissions, read-only mounts and pseudo file systems such as
    /proc all show up before any work is done.
    """
    target = Path(path)
    if target.is_dir():
        raise OSError(f"cannot write {target}: it is a folder, not a file")
    folder = target.parent
    if not folder.exists():
        raise OSError(f"cannot write {target}: folder {folder} does not exist")
    if not folder.is_dir():
        raise OSError(f"cannot write {target}: {folder} is not a folder")
    if target.exists() and not os.access(target, os.W_OK):
        raise OSError(f"cannot write {target}: the file is read-only")
    try:
        fd, probe = tempfile.mkstemp(
            dir=folder, prefix=f".{target.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise OSError(
            f"cannot write {target}: folder {folder} is not writable "
            f"({exc.strerror or exc})"
        ) from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)
