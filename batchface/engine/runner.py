"""The batch run: inputs -> worker processes -> rows streamed to one table.

    from batchface.engine.runner import run
    summary = run(["./media"], "results.parquet")

Workers (:mod:`batchface.engine.pool`) each load the models once and run OpenCV and onnxruntime on one
thread. Rows come out in input order, then frame order, then faces left to right, whatever the
number of workers.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from batchface import __version__
from batchface.engine.arguments import StrPath, check_arguments, check_named, worker_count
from batchface.engine.copies import Drawing, draw_copies
from batchface.engine.engines import Executor, make_engine
from batchface.engine.plan import Work, plan
from batchface.engine.progress import ProgressLine
from batchface.engine.summary import Summary, failure_line
from batchface.errors import Interrupted, Terminated
from batchface.faces.tracking import TrackNumbers
from batchface.media.inputs import Source, disambiguated, read_paths_file, walk
from batchface.options import Options
from batchface.output.copy_paths import check_apart, check_copies
from batchface.output.formats import STDOUT, format_of, is_folder
from batchface.output.journal import parts_dir, progress_path, remove_output, whole
from batchface.output.lock import OutputLock, lock_path
from batchface.output.table import renumber_tracks, schema
from batchface.output.writers import TableWriter, check_writable

if TYPE_CHECKING:
    import pyarrow as pa

#: seconds a worker may spend on one task (up to 16 images, or 1,500 frames of video) before it is stopped
TASK_TIMEOUT = 600.0
# for tests only, a fault-injection seam: a run stops as Ctrl-C stops it once it has committed this
# many results (an image or a piece of a video each); in a `batchface run` subprocess too
STOP_AFTER_VARIABLE = "BATCHFACE_TEST_STOP_AFTER"


@dataclass
class Job:
    """A run prepared (:func:`prepare`): its inputs, the work left to do, the open table, what it has
    done so far and the track ids of the videos it has begun."""

    sources: list[Source]
    todo: list[Work]
    options: Options
    writer: TableWriter
    summary: Summary
    tracks: TrackNumbers


def run(
    paths: Iterable[StrPath] = (),
    out: StrPath = "results.parquet",
    fmt: str | None = None,
    options: Options | None = None,
    workers: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    files_from: StrPath | None = None,
    progress: bool = True,
    commit_seconds: float = 2.0,
    engine: str = "local",
    address: str | None = None,
    timeout: float | None = TASK_TIMEOUT,
) -> Summary:
    """Analyse every image and video under ``paths`` into one table.

    Args:
        paths: image or video files, or folders (walked recursively).
        out: the table: .parquet (.pq), .csv or .jsonl (.ndjson); a folder (ending in /) for a Parquet
            dataset; ``-`` for standard output.
        fmt: the table's format (None: from ``out``'s extension).
        options: what shapes the rows (None: the defaults).
        workers: local worker processes (None: the number of CPUs; 0 runs in this process; at most
            :data:`batchface.engine.arguments.WORKERS_PER_CPU` a CPU, with a warning).
        resume: finish a killed run at ``out``, without duplicates.
        overwrite: replace an existing ``out``.
        files_from: a file naming more paths, one a line (``-``: standard input).
        progress: a progress bar on standard error.
        commit_seconds: make the rows durable at least this often (seconds).
        engine: ``local``, or ``ray``: the work runs on a Ray cluster instead
            (:mod:`batchface.engine.ray_engine`), the output written here.
        address: with ``ray``, the cluster, as ``ray.init`` takes it (None: ``RAY_ADDRESS``, else a Ray
            of this machine).
        timeout: seconds a task of worker processes (a few images, or a piece of a video) may take;
            then it is stopped and its inputs tried again one by one within the same limit, so that
            only an input that hangs gets an error row (None: no limit; not with ``workers=0`` or Ray).

    Returns:
        What the run did.

    Raises:
        ValueError: options that do not go together, or no input found;
            :class:`batchface.output.lock.OutputInUse` (a ValueError) while another run writes ``out``
            (one run per output at a time).
        Interrupted: Ctrl-C or SIGTERM stopped the run (:class:`batchface.errors.Interrupted`, with the
            summary so far).
    """
    from batchface.engine.pool import NO_WORKER_STARTS, in_a_worker_importing_the_script

    if in_a_worker_importing_the_script():  # not a second run: this worker ends, the first run says why
        print(f"batchface: {NO_WORKER_STARTS}", file=sys.stderr)
        os._exit(1)
    options = options or Options()
    check_arguments(resume, overwrite, engine, workers, commit_seconds, timeout)
    fmt = format_of(out, fmt)
    named = [*paths, *(read_paths_file(files_from) if files_from else [])]
    check_named(named)
    if options.annotate and is_folder(out):
        check_apart(options.annotate, out)
    if str(out) != STDOUT:
        check_writable(out)
    workers = worker_count(workers) if engine == "local" else workers
    # one run per output: refused here, before anything is touched, while another run holds it
    lock = contextlib.nullcontext() if str(out) == STDOUT else OutputLock(out)
    # the worker processes start, and load the models, while the inputs are walked and the table opened
    with lock, make_engine(engine, options, workers, address, timeout, commit_seconds or 1.0) as doer:
        job = prepare(named, out, fmt, options, resume, overwrite, commit_seconds)
        return execute(job, doer, progress)


def prepare(
    paths: list[StrPath], out: StrPath, fmt: str, options: Options, resume: bool, overwrite: bool, commit_seconds: float
) -> Job:
    """Walk the inputs, describe the run, open the table and plan what is left to do.

    Args:
        paths: as for :func:`run`, the paths of ``files_from`` included.
        out: as for :func:`run`.
        fmt: the table's format.
        options: as for :func:`run`.
        resume: take up a killed run's table.
        overwrite: as for :func:`run`.
        commit_seconds: as for :func:`run`.

    Returns:
        The run, ready for :func:`execute`.

    Raises:
        ValueError: no image or video found.
    """
    summary = Summary(output=str(out))
    # never read back as inputs
    own = [] if str(out) == STDOUT else [out, parts_dir(out), progress_path(out), lock_path(out)]
    own += [options.annotate] if options.annotate else []
    sources = disambiguated(list(walk(paths, summary.skipped_paths, own)), paths)
    summary.skipped = len(summary.skipped_paths)
    if options.annotate:
        check_copies(options.annotate, paths, sources, None if str(out) == STDOUT else out)
    if not sources:
        hint = f" ({summary.skipped} skipped; --verbose lists them)" if summary.skipped else ""
        raise ValueError(f"no image or video found in {', '.join(map(str, paths)) or 'the list given'}{hint}")
    table_schema, metadata = describe_run(options)
    if overwrite and str(out) != STDOUT:
        remove_output(out)
    writer = TableWriter(out, fmt, table_schema, metadata, resume=resume, commit_seconds=commit_seconds)
    done = set(writer.done)
    todo = [w for w in plan([s for s in sources if whole(s.path) not in done], options) if w.key not in done]
    summary.inputs = len(sources)
    summary.resumed = summary.done = len(sources) - len({w.source for w in todo})
    # inputs that failed before a --resume still count: the exit status covers the whole table
    summary.failed = {path for path, _, _ in writer.failed} & {whole(s.path)[0] for s in sources}
    summary.errors = len(summary.failed)
    return Job(sources, todo, options, writer, summary, TrackNumbers(writer.journal.tracks))


def execute(job: Job, doer: Executor, progress: bool) -> Summary:
    """Commit the results of the job's work to its table as they come; then close the table.

    Args:
        job: the run prepared.
        doer: the engine, started.
        progress: a progress bar on standard error.

    Returns:
        What the run did.

    Raises:
        Interrupted: Ctrl-C or SIGTERM stopped the run (:class:`batchface.errors.Interrupted`).
    """
    from tqdm import tqdm

    summary, writer = job.summary, job.writer
    # the bar counts the images and sampled video frames read, as the workers read them; its total
    # comes from the videos' headers, corrected at the end
    total = sum(w.frames for w in job.todo)
    bar = tqdm(total=total, unit="frame", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    start, finished, committed = time.monotonic(), False, 0
    drawings: list[Drawing] = []  # the pieces of videos whose annotated copies are drawn after the table
    stop_after = int(os.environ.get(STOP_AFTER_VARIABLE) or 0)  # the tests' seam; 0: never
    seen = ProgressLine(bar, summary, len(job.sources))
    results = doer.results(job.todo, seen.heard, writer.flush)
    try:
        for result in results:
            if committed == stop_after > 0:
                raise KeyboardInterrupt(f"{STOP_AFTER_VARIABLE}={stop_after}")
            committed += 1
            work = result.work
            state, ids = job.tracks.renumber(work.key[0], result.tracks, work.last)
            renumber_tracks(result.rows, ids)
            writer.commit(work.key, result.rows, state)
            if job.options.annotate and result.tracks is not None and not (work.start == 0 and work.last):
                drawings.append(Drawing(work, ids))  # a piece of a video: drawn once its ids are the video's
            error = summary.add(result)
            if error and progress:  # above the bar, as it happens
                bar.write(failure_line(result.work.source.path, error), file=sys.stderr)
            seen.show()
        finished = True
        bar.total = bar.n  # what the headers promised may not all have been there
    except (KeyboardInterrupt, Terminated) as stop:  # what was committed stays; the caller learns how far it got
        summary.seconds = time.monotonic() - start
        raise Interrupted(summary) from stop
    finally:
        # the engine stops now (Ray's execution, this process's progress hook), not when this frame is
        # collected; worker processes stop as the engine closes, after the table
        results.close()
        bar.close()
        try:
            writer.close(finished=finished)
        except OSError:  # a full disk fails this last write too: the first error is the one to tell
            if finished:
                raise
        summary.ray_nodes |= doer.nodes
    if drawings:
        draw_copies(drawings, job.options, doer)
    summary.seconds = time.monotonic() - start
    return summary


def describe_run(options: Options) -> tuple[pa.Schema, dict[str, object]]:
    """The table's schema, and the metadata that says what made it.

    Loading the models here also checks that the detector's file is one (a usage error before any
    worker starts).

    Args:
        options: the run's options.

    Returns:
        The schema (:func:`batchface.output.table.schema`), and the metadata: versions, model files' sha256,
        options.
    """
    from batchface.faces.analysis import Analyzer
    from batchface.faces.sessions import opened_for_metadata, sha256_of

    with opened_for_metadata():
        analyzer = Analyzer.for_options(options)
    checker = analyzer.detector.checker
    metadata: dict[str, object] = {
        "batchface_version": __version__,
        "detector": analyzer.detector_name,
        "detector_sha256": sha256_of(analyzer.detector.path),
        "detector_check_sha256": sha256_of(checker.path) if checker else None,
        "keypoint_model_sha256": analyzer.keypoints.sha256,
        "expression_model_sha256": analyzer.expression.sha256,
        "options": asdict(options),
    }
    return schema(analyzer.expression.classes, analyzer.keypoints.names if options.landmarks else ()), metadata


__all__ = ["Options", "Summary", "run"]
