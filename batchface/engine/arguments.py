"""A run's arguments, checked before anything is touched: refused (ValueError) where they do not
go together or name nothing, and the number of local worker processes."""

from __future__ import annotations

import importlib.util
import os
import sys

from batchface.engine.engines import ENGINES
from batchface.errors import printable

#: local worker processes a CPU at most: more only share the CPUs, each holding its own models (about
#: 100 MB) and taking a quarter of a second of CPU to start; a few a CPU can still hide slow reads
WORKERS_PER_CPU = 4
#: a path as a caller gives it
StrPath = str | os.PathLike[str]


def check_arguments(
    resume: bool, overwrite: bool, engine: str, workers: int | None, commit_seconds: float, timeout: float | None
) -> None:
    """Refuse arguments of :func:`batchface.engine.runner.run` that do not go together.

    Args:
        resume: as for :func:`batchface.engine.runner.run`.
        overwrite: as for :func:`batchface.engine.runner.run`.
        engine: as for :func:`batchface.engine.runner.run`.
        workers: as for :func:`batchface.engine.runner.run`.
        commit_seconds: as for :func:`batchface.engine.runner.run`.
        timeout: as for :func:`batchface.engine.runner.run`.

    Raises:
        ValueError: what does not go together.
    """
    if resume and overwrite:
        raise ValueError("resume (--resume) and overwrite (--overwrite) exclude each other")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if engine == "ray" and importlib.util.find_spec("ray") is None:
        raise ValueError("the ray engine needs Ray: pip install '.[ray]' in batchface's checkout")
    if (workers is not None and workers < 0) or commit_seconds < 0 or (timeout is not None and timeout <= 0):
        raise ValueError("workers and commit_seconds must be at least 0, timeout more than 0")


def check_named(paths: list[StrPath], shown: int = 3) -> None:
    """Refuse, before anything is written, paths named by the caller that do not exist.

    A typing error to correct, not an input to give an error row (which would make the table, and a
    rerun with the right path be refused for it).

    Args:
        paths: the paths named.
        shown: how many of the missing ones the message names.

    Raises:
        ValueError: naming the missing paths.
    """
    missing = [os.fspath(p) for p in paths if not os.path.exists(p)]
    if missing:
        said = [printable(p) + (" (a broken symbolic link)" if os.path.islink(p) else "") for p in missing[:shown]]
        more = f" and {len(missing) - shown} more" if len(missing) > shown else ""
        raise ValueError(f"no such file or folder: {', '.join(said)}{more}")


def worker_count(asked: int | None) -> int:
    """The local worker processes to start.

    Args:
        asked: the workers asked for (None: one a CPU).

    Returns:
        ``asked``, at most :data:`WORKERS_PER_CPU` a CPU, with a warning on standard error where that is fewer.
    """
    cpus = os.cpu_count() or 1
    if asked is None:
        return cpus
    most = WORKERS_PER_CPU * cpus
    if asked > most:
        print(
            f"batchface: warning: {asked} workers asked for, {most} started: at most {WORKERS_PER_CPU} a CPU "
            f"({cpus} CPUs here)",
            file=sys.stderr,
        )
        return most
    return asked
