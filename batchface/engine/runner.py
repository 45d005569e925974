"""The batch run: inputs -> worker processes -> rows streamed to one table.

    from batchface.engine.runner import run
    summary = run(["./media"], "results.parquet")

Workers (:mod:`batchface.engine.pool`) each load the models once and run OpenCV and onnxruntime on one
thread. Rows come out in input order, then frame order, then faces left to right, whatever the
number of workers.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import sys
import time
from dataclasses import asdict, dataclass, field

from batchface import __version__
from batchface.engine.plan import plan, tasks_of
from batchface.engine.worker import Drawing, crashed, draw_task, report_progress_to, run_task, worker_for
from batchface.errors import one_line, printable
from batchface.faces.tracking import VideoTracks
from batchface.media.inputs import disambiguated, read_paths_file, walk
from batchface.options import Options
from batchface.output.annotate import check_apart, check_copies
from batchface.output.formats import STDOUT, format_of, is_folder
from batchface.output.journal import parts_dir, progress_path, remove_output, whole
from batchface.output.lock import OutputLock, lock_path
from batchface.output.table import schema
from batchface.output.writers import TableWriter, check_writable

ENGINES = ("local", "ray")
#: seconds a worker may spend on one task (up to 16 images, or 1,500 frames of video) before it is stopped
TASK_TIMEOUT = 600.0
#: local worker processes a CPU at most: more only share the CPUs, each holding its own models (about
#: 100 MB) and taking a quarter of a second of CPU to start; a few a CPU can still hide slow reads
WORKERS_PER_CPU = 4


@dataclass
class Summary:
    inputs: int = 0
    images: int = 0
    videos: int = 0
    frames: int = 0
    faces: int = 0
    skipped: int = 0
    errors: int = 0
    resumed: int = 0
    seconds: float = 0.0
    output: str = ""
    skipped_paths: list = field(default_factory=list)  # (path, why)
    failures: list = field(default_factory=list)  # (path, why) of this session's inputs with an error row
    ray_nodes: set = field(default_factory=set)  # with the ray engine: the nodes that did work

    def _on_ray(self) -> str:
        n = len(self.ray_nodes)
        return f" on {n} Ray node{'s' if n > 1 else ''}" if n else ""

    def line(self) -> str:
        rate = self.faces / self.seconds if self.seconds else 0.0
        resumed = f", {self.resumed} already done" if self.resumed else ""
        return (
            f"{self.inputs} inputs ({self.images} images, {self.videos} videos{resumed}), "
            f"{self.frames} frames, {self.faces} faces, {self.skipped} skipped, {self.errors} errors "
            f"in {self.seconds:.1f} s ({rate:.1f} faces/s)"
            f"{self._on_ray()} -> {self.output}"
        )


def run(
    paths=(),
    out="results.parquet",
    fmt: str | None = None,
    options: Options | None = None,
    workers: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    files_from=None,
    progress: bool = True,
    commit_seconds: float = 2.0,
    engine: str = "local",
    address: str | None = None,
    timeout: float | None = TASK_TIMEOUT,
) -> Summary:
    """Analyse every image and video under ``paths`` into the table ``out``; returns a summary.

    ``workers``: processes (default: the number of CPUs; 0 runs in this process; at most
    :data:`WORKERS_PER_CPU` a CPU, with a warning). ``engine="ray"``
    runs the work on a Ray cluster instead (:mod:`batchface.engine.ray_engine`; ``address`` as ``ray.init``
    takes it, default ``RAY_ADDRESS``, else a Ray of this machine), the output written here. ``resume``
    finishes a killed run at ``out``; ``overwrite`` replaces an existing ``out``; rows are made
    durable every ``commit_seconds``. A task of worker processes (a few images, or a piece of a
    video) that takes more than ``timeout`` seconds is stopped and its inputs tried again one by one
    within the same limit, so that only an input that hangs gets an error row (None: no limit; not
    with ``workers=0`` or Ray). Raises ValueError for options that do not go together, and
    :class:`batchface.output.lock.OutputInUse` (a ValueError) while another run writes ``out``: one run per
    output at a time.
    """
    from tqdm import tqdm

    from batchface.engine.pool import NO_WORKER_STARTS, WorkerPool, in_a_worker_importing_the_script

    if in_a_worker_importing_the_script():  # not a second run: this worker ends, the first run says why
        print(f"batchface: {NO_WORKER_STARTS}", file=sys.stderr)
        os._exit(1)
    options = options or Options()
    if resume and overwrite:
        raise ValueError("resume (--resume) and overwrite (--overwrite) exclude each other")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if engine == "ray" and importlib.util.find_spec("ray") is None:
        raise ValueError("the ray engine needs Ray: pip install 'batchface[ray]'")
    if (workers is not None and workers < 0) or commit_seconds < 0 or (timeout is not None and timeout <= 0):
        raise ValueError("workers and commit_seconds must be at least 0, timeout more than 0")
    fmt = format_of(out, fmt)
    paths = list(paths) + (read_paths_file(files_from) if files_from else [])
    check_named(paths)
    if options.annotate and is_folder(out):
        check_apart(options.annotate, out)
    if str(out) != STDOUT:
        check_writable(out)
    workers = worker_count(workers) if engine == "local" else workers
    # the worker processes start, and load the models, while the inputs are walked and the table opened
    warm = functools.partial(worker_for, options)
    local = engine == "local" and workers > 0
    # one run per output: refused here, before anything is touched, while another run holds it
    lock = contextlib.nullcontext() if str(out) == STDOUT else OutputLock(out)
    with lock, WorkerPool(workers, warm, report_progress_to) if local else contextlib.nullcontext() as pool:
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
        summary.resumed = len(sources) - len({w.source for w in todo})
        # inputs that failed before a --resume still count: the exit status covers the whole table
        failed = {path for path, _, _ in writer.failed} & {whole(s.path)[0] for s in sources}
        summary.errors = len(failed)

        start = time.monotonic()
        # the bar counts the images and sampled video frames read, as the workers read them; its total
        # comes from the videos' headers, corrected at the end
        bar = tqdm(
            total=sum(w.frames for w in todo),
            unit="frame",
            disable=not progress,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        inputs_done = summary.resumed
        videos = {path: VideoTracks.from_state(state) for path, state in writer.journal.tracks.items()}
        drawings: list[Drawing] = []  # the pieces of videos whose annotated copies are drawn after
        finished = False
        engine_args = (engine, address, summary.ray_nodes, timeout)
        streamed = _results(todo, options, pool, commit_seconds or 1.0, bar.update, *engine_args)
        try:
            for results in streamed:
                if results is None:  # nothing new for a while: make what is pending durable
                    writer.flush()
                    continue
                for result in results:
                    state, ids = number_tracks(videos, result)
                    writer.commit(result.work.key, result.rows, state)
                    if (
                        options.annotate
                        and result.tracks is not None
                        and not (result.work.start == 0 and result.work.last)
                    ):
                        drawings.append(Drawing(result.work, ids))
                    summary.frames += result.frames
                    summary.faces += sum(r["status"] == "ok" for r in result.rows)
                    errors = [r["error"] for r in result.rows if r["status"] == "error"]
                    if errors:
                        failed.add(result.work.key[0])
                        summary.failures.append((result.work.source.path, errors[0]))
                        if progress:  # above the bar, as it happens
                            bar.write(failure_line(result.work.source.path, errors[0]), file=sys.stderr)
                    if result.work.last:  # an input is done with its last piece
                        summary.images += result.work.source.media_type == "image"
                        summary.videos += result.work.source.media_type == "video"
                        inputs_done += 1
                summary.errors = len(failed)
                elapsed = time.monotonic() - start
                bar.set_postfix(
                    inputs=f"{inputs_done}/{len(sources)}",
                    faces=summary.faces,
                    faces_per_s=f"{summary.faces / max(elapsed, 1e-9):.1f}",
                    refresh=False,
                )
            finished = True
            bar.total = bar.n  # what the headers promised may not all have been there
        except BaseException as stop:  # Ctrl-C, SIGTERM: what was committed stays; the caller learns how far it got
            summary.seconds = time.monotonic() - start
            stop.summary = summary
            raise
        finally:
            # the engine stops now (Ray's execution, this process's progress hook), not when this frame is
            # collected; worker processes stop as the pool closes, after the table
            streamed.close()
            bar.close()
            try:
                writer.close(finished=finished)
            except OSError:  # a full disk fails this last write too: the first error is the one to tell
                if finished:
                    raise
        if drawings:
            draw_copies(drawings, options, pool)
        summary.seconds = time.monotonic() - start
        return summary


def draw_copies(drawings: list, options: Options, pool) -> None:
    """Draw the annotated copies of the videos analysed in pieces, a piece a task on the workers,
    now that their track ids are the whole videos', and join each video's pieces into its copy
    (:func:`batchface.output.annotate.join_pieces`). A copy that cannot be written is said on
    standard error: the rows are committed already."""
    from batchface.output.annotate import mirrored_path

    by_video: dict = {}
    for drawing in drawings:
        by_video.setdefault(drawing.work.source, []).append(drawing)
    whole = [d for pieces in by_video.values() if pieces[0].work.start == 0 for d in pieces]
    for source, pieces in by_video.items():
        if pieces[0].work.start != 0:  # its first pieces were committed by a run before this --resume
            copy = mirrored_path(options.annotate, source.relative, "video")
            for kept in copy.parent.glob(f".{copy.name}.piece-*"):
                kept.unlink(missing_ok=True)
            why = "annotated copy not written: the run was resumed within this video"
            print(failure_line(source.path, why), file=sys.stderr)
    tasks = [[drawing] for drawing in whole]
    if pool is None:
        done = (draw_task(options, task) for task in tasks)
    else:
        failed = lambda task, why: [(None, f"annotated copy not written: {why}")]  # noqa: E731
        done = (r for r in pool.ordered_results(tasks, draw_task, (options,), 1.0, failed) if r is not None)
    written: list = []
    for drawing, [(path, why)] in zip(whole, done):
        written.append((path, why))
        if drawing.work.last:
            _join(drawing.work.source, written, options)
            written = []


def _join(source, written: list, options: Options) -> None:
    """Join the drawn pieces (path, why not) of a video's copy, or say why it cannot be."""
    from batchface.output.annotate import join_pieces, mirrored_path

    why = next((w for _, w in written if w), None)
    try:
        if why is None:
            paths = [path for path, _ in written]
            copy = mirrored_path(options.annotate, source.relative, "video").with_suffix(paths[0].suffix)
            join_pieces(paths, copy, options.annotate)
    except Exception as e:
        why = f"annotated copy not written: {one_line(e)}"
    finally:
        for path, _ in written:
            if path is not None:
                path.unlink(missing_ok=True)
    if why:
        print(failure_line(source.path, why), file=sys.stderr)


def check_named(paths, shown: int = 3) -> None:
    """Refuse (ValueError, before anything is written) paths named by the caller that do not exist: a
    typing error to correct, not an input to give an error row (which would make the table, and a rerun
    with the right path be refused for it). Names the first ``shown`` of them."""
    missing = [os.fspath(p) for p in paths if not os.path.exists(p)]
    if missing:
        said = [printable(p) + (" (a broken symbolic link)" if os.path.islink(p) else "") for p in missing[:shown]]
        more = f" and {len(missing) - shown} more" if len(missing) > shown else ""
        raise ValueError(f"no such file or folder: {', '.join(said)}{more}")


def worker_count(asked: int | None) -> int:
    """The local worker processes to start for ``asked`` (None: one a CPU): at most
    :data:`WORKERS_PER_CPU` a CPU, with a warning on standard error where that is fewer."""
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


def failure_line(path: str, why: str) -> str:
    """The terminal's line for an input that failed, its path and reason escaped (:func:`printable`)."""
    return f"batchface: failed: {printable(path)}: {printable(why)}"


def number_tracks(videos: dict, result) -> tuple[dict | None, dict]:
    """Renumber the ``track_id`` of a video piece's rows for the whole video (``videos``: the
    :class:`VideoTracks` of each video by path, the pieces committed in order); returns the state to
    journal with a piece that is not its video's last (else None), and the whole video's id of each
    of the piece's own."""
    if result.tracks is None:
        return None, {}
    path = result.work.key[0]
    ids = videos.setdefault(path, VideoTracks()).renumber(result.tracks)
    for row in result.rows:
        if row.get("track_id") is not None:
            row["track_id"] = ids[row["track_id"]]
    if result.work.last:
        del videos[path]
        return None, ids
    return videos[path].state(), ids


def describe_run(options: Options):
    """The table's schema, and the metadata that says what made it: versions, model files, options.

    Loading the models here also checks that the detector's file is one (a usage error before any
    worker starts)."""
    from batchface.faces.analysis import Analyzer
    from batchface.faces.models import opened_for_metadata, sha256_of

    with opened_for_metadata():
        analyzer = Analyzer.for_options(options)
    checker = getattr(analyzer.detector, "checker", None)
    metadata = {
        "batchface_version": __version__,
        "detector": analyzer.detector_name,
        "detector_sha256": sha256_of(analyzer.detector.path),
        "detector_check_sha256": sha256_of(checker.path) if checker else None,
        "keypoint_model_sha256": analyzer.keypoints.sha256,
        "expression_model_sha256": analyzer.expression.sha256,
        "options": asdict(options),
    }
    return schema(analyzer.expression.classes, analyzer.keypoints.names if options.landmarks else ()), metadata


def _results(todo, options: Options, pool, tick: float, counted, engine: str, address, nodes: set, timeout):
    """Results of each task, in task order; None every ``tick`` seconds that nothing arrives.
    ``counted(n)`` hears of the frames read as they are read; ``nodes`` of the Ray nodes that did work."""
    if engine == "ray":
        from batchface.engine.ray_engine import results

        for result in results(todo, options, counted, address, nodes):
            yield [result]
        return
    if pool is None:  # in this process
        report_progress_to(counted)
        try:
            for task in tasks_of(todo):
                yield run_task(options, task)
        finally:
            report_progress_to(None)
        return
    yield from pool.ordered_results(tasks_of(todo), run_task, (options,), tick, crashed, timeout, counted)


__all__ = ["Options", "Summary", "run"]
