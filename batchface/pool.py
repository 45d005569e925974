"""Running tasks in worker processes (``pebble``), their results streamed in task order.

A worker that dies (a decoder's segfault, the out-of-memory killer) or outlives a task's time
limit is replaced by the pool and costs only its task: a task of several inputs is tried again
input by input, so that only the guilty input gets an error row.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from concurrent.futures import TimeoutError as Timeout

START_METHOD = "spawn"  # no threads or locks inherited from the calling process


def ordered_results(tasks, fn, args: tuple, workers: int, tick: float, failed, timeout: float | None = None):
    """``fn(*args, task)`` for each task (a list of inputs) in ``workers`` processes, yielded in task
    order; None every ``tick`` seconds that nothing arrives. ``failed(task, why)`` gives the result of
    a task whose worker died or passed ``timeout`` seconds (None: no limit) on it alone."""
    from pebble import ProcessExpired, ProcessPool

    pending = deque(tasks)
    in_flight: deque = deque()
    pool = ProcessPool(max_workers=workers, context=multiprocessing.get_context(START_METHOD))
    try:
        while pending or in_flight:
            while pending and len(in_flight) < 2 * workers:  # enough queued to keep every worker busy
                task = pending.popleft()
                in_flight.append((task, pool.schedule(fn, (*args, task), timeout=timeout)))
            task, future = in_flight[0]
            try:
                future.result(timeout=tick)
            except (Timeout, ProcessExpired):
                if not future.done():
                    yield None  # nothing new for a while
                    continue
            error = future.exception()
            in_flight.popleft()
            if error is None:
                yield future.result()
                continue
            why = (
                f"no result in {timeout:g} s: stopped"
                if isinstance(error, Timeout)
                else "the worker process died on this input"
            )
            if len(task) > 1:  # which input was it? each is tried again alone, first in line
                in_flight.extendleft(reversed([([w], pool.schedule(fn, (*args, [w]), timeout=timeout)) for w in task]))
            else:
                yield failed(task, why)
    finally:
        pool.stop()  # the caller may have given up (an error, Ctrl-C): do not wait for running tasks
        pool.join()
