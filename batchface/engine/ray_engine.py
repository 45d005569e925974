"""Running the analysis on a Ray cluster with Ray Data (the ``ray`` extra).

The driver plans the units of work as a local run does (images, and pieces of long videos), Ray Data
maps them over a pool of actors that each load the models once (:class:`FacesOfWork`, which calls
:func:`batchface.engine.worker.run_task` like every engine), and the results come back to the driver in
order, where they are committed to the output exactly as in a local run: the same table, journal,
``--resume`` and track ids. The inputs must be on storage every node sees, under the same paths.

    ray.init(address="auto")
    batchface.run(["/shared/photos"], "/shared/faces.parquet", engine="ray")

For a Dataset of your own, ``FaceRows`` turns rows naming files into the table's rows:

    ds = ray.data.from_items([{"path": p} for p in paths])
    faces = ds.map_batches(FaceRows, fn_constructor_args=(Options(),), batch_size=8, concurrency=3)
"""

from __future__ import annotations

import logging
import os
import pickle
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from batchface.engine.plan import Work, tasks_of
from batchface.engine.pool import DIED
from batchface.engine.worker import Progress, Result, crashed, run_task, worker_for
from batchface.media.inputs import Source, media_type_of
from batchface.options import Options
from batchface.output.table import STATUS
from batchface.vocabulary import Status

#: actor restarts and task retries before a task counts as one that kills its worker
RETRIES = 1
#: what turns a task into its results, in an actor: ``task_fn(options, task)``
TaskFn = Callable[[Options, list[Work]], list[Result]]


class FacesOfWork:
    """A Ray Data callable class that turns tasks into their results, in an actor.

    The models load in the actor's first batch, once.

    Args:
        options: the run's options.
        task_fn: what turns a task into results (tests replace it).
    """

    def __init__(self, options: Options, task_fn: TaskFn = run_task):
        self.options, self.task_fn = options, task_fn

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The results of a batch of tasks.

        Args:
            batch: column ``index``, each task's place in the run; column ``task``, each a task (a list of
                :class:`batchface.engine.plan.Work`), pickled.

        Returns:
            Columns ``index``, as given; ``results``, each task's results (a list of
            :class:`batchface.engine.worker.Result`), pickled; ``node``, the Ray node that made them.
        """
        import ray

        done = [pickle.dumps(self.task_fn(self.options, pickle.loads(task))) for task in batch["task"]]
        node = ray.get_runtime_context().get_node_id()
        return {
            "index": batch["index"],
            "results": np.array(done, dtype=object),
            "node": np.array([node] * len(done), dtype=object),
        }


class FaceRows:
    """A Ray Data callable class for a Dataset of your own: files named in a batch become the table's rows.

    Args:
        options: what shapes the rows.
    """

    def __init__(self, options: Options):
        from batchface.output.table import schema

        analyzer = worker_for(options).analyzer  # the models of the actor's tasks, loaded once
        names = analyzer.keypoints.names if options.landmarks else ()
        self.options, self.columns = options, schema(analyzer.expression.classes, names).names

    def __call__(self, batch: dict[str, Sequence[str]]) -> dict[str, list]:
        """The table's rows for a batch of files.

        Args:
            batch: column ``path``, image or video files (a video is analysed whole).

        Returns:
            The rows of the files, in order, by column: the columns of
            :func:`batchface.output.table.schema`, each row's value or None.
        """
        works = [Work(Source(str(p), media_type_of(str(p)) or "image")) for p in batch["path"]]
        rows = [row for result in run_task(self.options, works) for row in result.rows]
        return {name: [row.get(name) for row in rows] for name in self.columns}


def results(
    todo: list[Work],
    options: Options,
    counted: Progress,
    address: str | None = None,
    nodes: set[str] | None = None,
    task_fn: TaskFn = run_task,
) -> Iterator[Result]:
    """The results of a run's work, computed on Ray in the tasks of a local run (:func:`tasks_of`).

    A task whose actor died on it :data:`RETRIES` + 1 times is tried again input by input, so that
    only the input that kills its actor gets the error row of a dead worker. Joins the cluster at
    ``address`` unless this process is connected already.

    Args:
        todo: the run's units of work.
        options: the run's options.
        counted: hears ``(frames, faces)`` of each result as it comes.
        address: the cluster, as ``ray.init`` takes it (None: ``RAY_ADDRESS``, else a Ray of this
            machine, started for the run).
        nodes: gets the ids of the Ray nodes that did work.
        task_fn: what turns a task into results (tests replace it).

    Yields:
        Each unit's result, in ``todo``'s order.
    """
    import ray

    if not ray.is_initialized():
        ray.init(
            address=address or os.environ.get("RAY_ADDRESS"),
            log_to_driver=False,
            include_dashboard=False,
            logging_level=logging.WARNING,
        )
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # batchface's own bar counts the frames
    context.enable_auto_log_stats = context.enable_get_object_locations_for_metrics = False  # less Ray overhead
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    context.execution_options.preserve_order = True  # committed in input order, as locally
    context.max_errored_blocks = -1  # a task that kills its actor is left out, and tried again here
    tasks = list(tasks_of(todo))
    for task, done in zip(tasks, _mapped(tasks, options, task_fn, nodes)):
        if done is None and len(task) > 1:  # which input was it? each alone
            alone = [[w] for w in task]
            done = [
                r for w, got in zip(alone, _mapped(alone, options, task_fn, nodes)) for r in got or crashed(w, DIED)
            ]
        for result in done or crashed(task, DIED):
            counted((max(result.frames, 1), sum(r[STATUS] == Status.ok for r in result.rows)))
            yield result


def _mapped(
    tasks: list[list[Work]], options: Options, task_fn: TaskFn, nodes: set[str] | None
) -> Iterator[list[Result] | None]:
    """For each task, in order, its results computed by the actors, or None where its actor died."""
    import ray

    if not tasks:
        return
    items = [{"index": i, "task": pickle.dumps(task)} for i, task in enumerate(tasks)]
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    with warnings.catch_warnings():  # bounded restarts have no named parameter in Ray 2.60
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            FacesOfWork,
            fn_constructor_args=(options, task_fn),
            batch_size=1,
            # one task at a time on an actor: when it dies, the task that killed it is the one lost
            compute=ray.data.ActorPoolStrategy(size=cpus, max_tasks_in_flight_per_actor=1),
            num_cpus=1,
            max_restarts=RETRIES,
            max_task_retries=RETRIES,
        )
    expected = 0
    for row in dataset.iter_rows():
        yield from [None] * (int(row["index"]) - expected)  # left out: their actors died on them
        if nodes is not None:
            nodes.add(row["node"])
        yield pickle.loads(row["results"])
        expected = int(row["index"]) + 1
    yield from [None] * (len(tasks) - expected)
