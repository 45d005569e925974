"""The engines that run a run's planned work: in the calling process, in local worker processes, or on
a Ray cluster. Each is made with its own settings, started with ``with`` (local workers start, and
load the models, while the run walks its inputs) and gives the results of the work in its order;
every one calls :func:`batchface.engine.worker.run_task`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Protocol

from batchface.engine.plan import Work, tasks_of
from batchface.engine.worker import Result, crashed, report_progress_to, run_task, worker_for
from batchface.vocabulary import Engine


class Executor(Protocol):
    """What the runner asks of an engine."""

    #: the Ray nodes that did work (empty for the engines of this machine)
    nodes: set

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc) -> None: ...

    def results(self, todo: list[Work], counted: Callable[[tuple], None], idle: Callable[[], None]) -> Iterator[Result]:
        """The result of each unit of work of ``todo``, in its order. ``counted((frames, faces))``
        hears of the images and video frames read, and of the faces found in them, as they are read;
        ``idle()`` is called when nothing has come for a while (the runner makes what it holds
        durable then)."""
        ...

    def each(self, fn, tasks: list, failed) -> Iterator:
        """``fn(options, task)`` for each task, in order (``failed(task, why)`` where a worker died on it)."""
        ...


class InProcess:
    """The work done in the calling process, one task after another (``workers=0``)."""

    def __init__(self, options):
        self.options, self.nodes = options, set()

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def results(self, todo, counted, idle) -> Iterator[Result]:
        report_progress_to(counted)
        try:
            for task in tasks_of(todo):
                yield from run_task(self.options, task)
        finally:
            report_progress_to(None)

    def each(self, fn, tasks, failed) -> Iterator:
        return (fn(self.options, task) for task in tasks)


class LocalProcesses:
    """``workers`` worker processes of this machine (:class:`batchface.engine.pool.WorkerPool`); a task
    that takes more than ``timeout`` seconds (None: no limit) is stopped and its inputs tried alone;
    ``idle`` is called every ``tick`` seconds that no result comes."""

    def __init__(self, options, workers: int, timeout: float | None, tick: float):
        self.options, self.workers, self.timeout, self.tick = options, workers, timeout, tick
        self.nodes: set = set()
        self._pool = None

    def __enter__(self) -> LocalProcesses:
        from batchface.engine.pool import WorkerPool

        self._pool = WorkerPool(self.workers, functools.partial(worker_for, self.options), report_progress_to)
        return self

    def __exit__(self, *exc) -> None:
        self._pool.close()

    def results(self, todo, counted, idle) -> Iterator[Result]:
        tasks = tasks_of(todo)
        done = self._pool.ordered_results(
            tasks, run_task, (self.options,), self.tick, crashed, self.timeout, counted, idle
        )
        for results in done:
            yield from results

    def each(self, fn, tasks, failed) -> Iterator:
        return self._pool.ordered_results(tasks, fn, (self.options,), self.tick, failed, self.timeout)


class RayCluster:
    """Ray actors on the cluster at ``address`` (:mod:`batchface.engine.ray_engine`)."""

    def __init__(self, options, address: str | None):
        self.options, self.address, self.nodes = options, address, set()

    def __enter__(self) -> RayCluster:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def results(self, todo, counted, idle) -> Iterator[Result]:
        from batchface.engine.ray_engine import results

        yield from results(todo, self.options, counted, self.address, self.nodes)

    def each(self, fn, tasks, failed) -> Iterator:  # the annotated copies are drawn here, by the driver
        return (fn(self.options, task) for task in tasks)


ENGINES = tuple(Engine)


def make_engine(
    name: str, options, workers: int, address: str | None = None, timeout: float | None = None, tick: float = 1.0
) -> Executor:
    """The engine ``name`` of :data:`ENGINES` (``local`` with ``workers`` 0: :class:`InProcess`)."""
    if name == Engine.ray:
        return RayCluster(options, address)
    return LocalProcesses(options, workers, timeout, tick) if workers > 0 else InProcess(options)
