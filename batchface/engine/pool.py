"""Running tasks in worker processes (``pebble``), their results streamed in task order.

A worker that dies (a decoder's segfault, the out-of-memory killer) or outlives a task's time
limit is replaced by the pool and costs only its task: a task of several inputs is tried again
input by input, so that only the guilty input gets an error row. Workers die with the process that
started them (``kill -9`` of a run leaves none behind) and leave Ctrl-C to it.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, wait
from concurrent.futures import TimeoutError as Timeout
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from types import FrameType
from typing import TypeVar

T = TypeVar("T")  # what a task's function gives
W = TypeVar("W")  # an input of a task
R = TypeVar("R")  # the result of a task

START_METHOD = "spawn"  # no threads or locks inherited from the calling process
#: the environment of batchface's processes, where the caller's does not say otherwise: numpy's OpenBLAS
#: starts a thread per CPU, which spins for about 0.1 s of CPU as numpy is imported; batchface gives
#: numpy only small arrays, and runs a process per CPU already
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1"}
#: seconds: how often pebble's pool looks at its workers. Its default, 0.1 s, is waited at every stop;
#: every 0.01 s the looking costs 0.1 s of CPU in a 6 s run
POOL_TICK = 0.03
PROGRESS_SECONDS = 0.25  # how often the workers' progress reports are read
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
DIED = "the worker process died on this input"  # why an input whose worker died has no rows
NO_WORKER_STARTS = (
    "no worker process could start: each exited as it started. Each imports the script that called run() "
    '(as "__mp_main__"); a script must call run() under `if __name__ == "__main__":`'
)


#: in a worker process, the sending end of the pool's pipe of progress messages (set as it starts)
_sender: Connection | None = None


def _start_worker(parent: int, sender: Connection, warm: Callable[[], object] | None) -> None:
    """In each worker process, first: ignore Ctrl-C (the terminal sends it to every process; the run
    stops its workers itself), die with the run's process, keep ``sender``, then ``warm()``."""
    global _sender
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):  # the kernel's parent-death signal: at once
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()  # anywhere, within a second
    _sender = sender
    if warm is not None:
        try:
            warm()
        except Exception:  # the first task meets the same error, and says it where it belongs
            pass


def _nothing() -> None:
    pass


def _reporting(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args, progress=...)`` in a worker process, its progress messages sent to the run's process.

    Each message (a tuple of a few numbers) is pickled and written to the pipe whole by
    :meth:`Connection.send`, so the workers share the pipe without a lock, and one killed mid-run
    cannot leave half a message in it.
    """
    assert _sender is not None, "a task of the pool, in a worker process"
    return fn(*args, progress=_sender.send)


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` where it has none of its own, within the block.

    Args:
        values: environment variables, by name.

    Yields:
        Nothing; the variables added are removed at the block's end.
    """
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def in_a_worker_importing_the_script() -> bool:
    """Whether this process is a worker whose import of the calling script is what called us.

    Returns:
        True where a frame of the stack runs the script imported by spawn as ``__mp_main__``.
    """
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        if frame.f_globals.get("__name__") == "__mp_main__":
            return True
        frame = frame.f_back
    return False


class WorkerPool:
    """Worker processes, started at once; close it when done (``with``).

    Each worker has the sending end of one pipe for progress messages, which a task with a ``progress``
    argument is given (:meth:`ordered_results`, ``counted``).

    Args:
        workers: how many processes.
        warm: what each runs as it starts (loads the models, say), while the caller goes on.
    """

    def __init__(self, workers: int, warm: Callable[[], object] | None = None):
        import pebble

        pebble.CONSTS.sleep_unit = POOL_TICK
        context = multiprocessing.get_context(START_METHOD)
        self.workers = workers
        self._reports, self._sender = context.Pipe(duplex=False)
        self._pool = pebble.ProcessPool(
            max_workers=workers,
            context=context,
            initializer=_start_worker,
            initargs=(os.getpid(), self._sender, warm),
        )
        with environment(ONE_BLAS_THREAD):  # the workers inherit it: pebble starts them at the first task
            self._pool.schedule(_nothing)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers, running tasks and all, and close the pipe."""
        self._pool.stop()  # the caller may have given up (an error, Ctrl-C): do not wait for running tasks
        self._pool.join()
        self._reports.close()
        self._sender.close()

    def _schedule(self, fn: Callable[..., object], args: tuple, timeout: float | None) -> Future:
        try:
            return self._pool.schedule(fn, args, timeout=timeout)
        except RuntimeError:  # pebble refuses tasks once every worker has exited outside a task: as it started
            raise RuntimeError(NO_WORKER_STARTS) from None

    def ordered_results(
        self,
        tasks: Iterable[list[W]],
        fn: Callable[..., R],
        args: tuple,
        tick: float,
        failed: Callable[[list[W], str], R],
        timeout: float | None = None,
        counted: Callable[[tuple[int, int]], None] | None = None,
        idle: Callable[[], None] | None = None,
    ) -> Iterator[R]:
        """``fn(*args, task)`` for each task, in the workers.

        A task of several inputs whose worker died or ran out of time is tried again input by input.

        Args:
            tasks: lists of inputs.
            fn: what a worker makes of one task; given ``progress=`` a callable too where ``counted`` is.
            args: ``fn``'s first arguments, before the task.
            tick: seconds without news after which ``idle()`` is called.
            failed: ``failed(task, why)``, the result of a task of one input whose worker died on it,
                or passed ``timeout`` on it.
            timeout: seconds a task may take in its worker (None: no limit).
            counted: gets each progress message that ``fn`` sends, (frames, faces), as it arrives
                (None: ``fn`` is not given ``progress``).
            idle: called every ``tick`` seconds that no result comes.

        Yields:
            Each task's result, in task order.

        Raises:
            RuntimeError: no worker process could start (:data:`NO_WORKER_STARTS`).
        """
        if counted is not None:
            fn, args = _reporting, (fn, *args)
        pending = deque(tasks)
        in_flight: deque[tuple[list[W], Future]] = deque()
        last_news = time.monotonic()
        while pending or in_flight:
            while pending and len(in_flight) < 2 * self.workers:  # enough queued to keep every worker busy
                task = pending.popleft()
                in_flight.append((task, self._schedule(fn, (*args, task), timeout)))
            task, future = in_flight[0]
            wait([future], timeout=min(tick, PROGRESS_SECONDS))
            while counted and self._reports.poll():
                counted(self._reports.recv())
            if not future.done():
                if time.monotonic() - last_news >= tick:
                    last_news = time.monotonic()
                    if idle is not None:
                        idle()
                continue
            last_news = time.monotonic()
            error = future.exception()
            if isinstance(error, BrokenProcessPool):  # every worker exited as it started: no input's fault
                raise RuntimeError(NO_WORKER_STARTS)
            in_flight.popleft()
            if error is None:
                yield future.result()
                continue
            why = f"no result in {timeout:g} s: stopped" if isinstance(error, Timeout) else DIED
            if len(task) > 1:  # which input was it? each is tried again alone, first in line
                retries = [([w], self._schedule(fn, (*args, [w]), timeout)) for w in task]
                in_flight.extendleft(reversed(retries))
            else:
                yield failed(task, why)
