"""One run per output at a time: an OS file lock on ``<out>.lock``, held for the whole run.

Two runs writing one table (a ``--resume`` while the first run still goes, two ``--resume`` at once,
an ``--overwrite`` under a running run) would leave duplicates, missing rows or a broken Parquet
file. The lock is ``flock(2)``'s: the kernel drops it when its process ends, however it ends (even
``kill -9`` or a power cut), so a lock file left behind by a killed run stops nobody. The holder
writes its process id into the file, so that the run refused can say who holds it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def lock_path(out: str | os.PathLike[str]) -> Path:
    """Where the lock of an output is.

    Args:
        out: the output.

    Returns:
        ``<out>.lock`` beside it (a folder output ``DIR/``: ``DIR.lock``).
    """
    return Path(out).with_name(Path(out).name + ".lock")


class OutputInUse(ValueError):
    """Another process holds the output's lock: a usage error, nothing was touched."""


class OutputLock:
    """The lock of the output ``out``, taken at once or refused (:class:`OutputInUse`); use ``with``.

    The lock file is removed on release, while still held, and a lock taken on a file that was
    removed meanwhile is taken again on the new one, so that two runs never hold two files."""

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out, self.path = out, lock_path(out)
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise OutputInUse(
                    f"{self.out} is being written by another batchface run (process {holder}, which holds "
                    f"{self.path}): one run per output at a time; wait for it to end, or stop it and rerun with "
                    "resume=True (--resume)"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:  # its holder removed it as we opened it
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # before the lock goes: a waiting opener then sees a new file
        os.close(self._fd)
        self._fd = None
