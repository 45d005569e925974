"""The engines that run a run's planned work: in the calling process, in local worker processes, or on
a Ray cluster. Each is made with its own settings, started with ``with`` (local workers start, and
load the models, while the run walks its inputs) and gives the results of the work in its order;
every one calls :func:`batchface.engine.worker.run_task`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Protocol, TypeVar

from batchface.engine.plan import Work, tasks_of
from batchface.engine.worker import Progress, Result, crashed, run_task, worker_for
from batchface.options import Options
from batchface.vocabulary import Engine

if TYPE_CHECKING:
    from batchface.engine.pool import WorkerPool

T = TypeVar("T")  # a task
R = TypeVar("R")  # its result
#: what an engine makes of a task, in a worker: ``fn(options, task)``
TaskFn = Callable[[Options, T], R]
#: the result of a task whose worker died on it: ``failed(task, why)``
Failed = Callable[[T, str], R]


class Executor(Protocol):
    """What the runner asks of an engine."""

    #: the Ray nodes that did work (empty for the engines of this machine)
    nodes: set[str]

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def results(self, todo: list[Work], counted: Progress, idle: Callable[[], None]) -> Generator[Result, None, None]:
        """The result of each unit of work, in order.

        Args:
            todo: the run's units of work.
            counted: hears ``(frames, faces)``: images and video frames read, and the faces found in
                them, as they are read.
            idle: called when nothing has come for a while (the runner makes what it holds durable then).

        Yields:
            Each unit's result, in ``todo``'s order.
        """
        ...

    def each(self, fn: TaskFn[list[T], R], tasks: Iterable[list[T]], failed: Failed[list[T], R]) -> Iterator[R]:
        """``fn(options, task)`` for each task.

        Args:
            fn: what to do with a task, in a worker.
            tasks: the tasks.
            failed: ``failed(task, why)``, the result of a task whose worker died on it.

        Returns:
            Each task's result, in order.
        """
        ...


class InProcess:
    """The work done in the calling process, one task after another (``workers=0``).

    Args:
        options: the run's options.
    """

    def __init__(self, options: Options):
        self.options = options
        self.nodes: set[str] = set()

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def results(self, todo: list[Work], counted: Progress, idle: Callable[[], None]) -> Generator[Result, None, None]:
        """As :meth:`Executor.results`."""
        for task in tasks_of(todo):
            yield from run_task(self.options, task, counted)

    def each(self, fn: TaskFn[list[T], R], tasks: Iterable[list[T]], failed: Failed[list[T], R]) -> Iterator[R]:
        """As :meth:`Executor.each`."""
        return (fn(self.options, task) for task in tasks)


class LocalProcesses:
    """Worker processes of this machine (:class:`batchface.engine.pool.WorkerPool`).

    Args:
        options: the run's options.
        workers: how many processes.
        timeout: seconds a task may take before it is stopped and its inputs tried alone (None: no limit).
        tick: seconds without a result after which ``idle`` is called.
    """

    def __init__(self, options: Options, workers: int, timeout: float | None, tick: float):
        self.options, self.workers, self.timeout, self.tick = options, workers, timeout, tick
        self.nodes: set[str] = set()
        self._pool: WorkerPool | None = None

    def __enter__(self) -> LocalProcesses:
        from batchface.engine.pool import WorkerPool

        self._pool = WorkerPool(self.workers, functools.partial(worker_for, self.options))
        return self

    def __exit__(self, *exc: object) -> None:
        self._started().close()

    def _started(self) -> WorkerPool:
        if self._pool is None:
            raise RuntimeError("the engine is used within `with`")
        return self._pool

    def results(self, todo: list[Work], counted: Progress, idle: Callable[[], None]) -> Generator[Result, None, None]:
        """As :meth:`Executor.results`."""
        done = self._started().ordered_results(
            tasks_of(todo), run_task, (self.options,), self.tick, crashed, self.timeout, counted, idle
        )
        for results in done:
            yield from results

    def each(self, fn: TaskFn[list[T], R], tasks: Iterable[list[T]], failed: Failed[list[T], R]) -> Iterator[R]:
        """As :meth:`Executor.each`."""
        return self._started().ordered_results(tasks, fn, (self.options,), self.tick, failed, self.timeout)


class RayCluster:
    """Ray actors on a cluster (:mod:`batchface.engine.ray_engine`).

    Args:
        options: the run's options.
        address: the cluster, as ``ray.init`` takes it (None: ``RAY_ADDRESS``, else a Ray of this machine).
    """

    def __init__(self, options: Options, address: str | None):
        self.options, self.address = options, address
        self.nodes: set[str] = set()

    def __enter__(self) -> RayCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def results(self, todo: list[Work], counted: Progress, idle: Callable[[], None]) -> Generator[Result, None, None]:
        """As :meth:`Executor.results`; ``counted`` hears of each result's counts as it comes."""
        from batchface.engine.ray_engine import results

        yield from results(todo, self.options, counted, self.address, self.nodes)

    def each(self, fn: TaskFn[list[T], R], tasks: Iterable[list[T]], failed: Failed[list[T], R]) -> Iterator[R]:
        """As :meth:`Executor.each`; the annotated copies are drawn here, by the driver."""
        return (fn(self.options, task) for task in tasks)


ENGINES = tuple(Engine)


def make_engine(
    name: str,
    options: Options,
    workers: int | None,
    address: str | None = None,
    timeout: float | None = None,
    tick: float = 1.0,
) -> Executor:
    """The engine of a run.

    Args:
        name: one of :data:`ENGINES`.
        options: the run's options.
        workers: with ``local``, worker processes (0: :class:`InProcess`); not used by ``ray``.
        address: with ``ray``, the cluster.
        timeout: with ``local`` workers, seconds a task may take (None: no limit).
        tick: with ``local`` workers, seconds without a result after which the runner is told.

    Returns:
        The engine, to start with ``with``.
    """
    if name == Engine.ray:
        return RayCluster(options, address)
    return LocalProcesses(options, workers, timeout, tick) if workers else InProcess(options)
