"""The batch run: inputs -> worker processes -> rows streamed to one table.

    from batchface.runner import run
    summary = run(["./media"], "results.parquet")

Workers are started with the ``spawn`` method (no inherited threads or locks); each loads the
models once and runs OpenCV and onnxruntime on one thread. Rows come out in input order, then
frame order, then faces left to right, whatever the number of workers.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

from batchface import __version__, annotate
from batchface.inputs import InputError, Source, VideoReader, read_paths_file, read_picture, walk
from batchface.writers import KAGGLE_COLUMNS, TableWriter, format_of, schema

START_METHOD = "spawn"
IMAGES_PER_TASK = 8        # images travel to a worker in small groups: fewer messages, bigger model batches
FRAMES_PER_BATCH = 16      # video frames whose faces share one model call
SEGMENT_FRAMES = 1500      # a video is cut into pieces of this many source frames (1 min at 25 fps):
                           # workers share a long video, and a killed run loses at most a piece of it


@dataclass
class Options:
    """What shapes the rows: detector, video sampling, extra columns, annotated copies."""

    detector: str = "yunet"
    detector_model: str | None = None
    min_face: int | None = None
    every: int = 1
    fps: float | None = None
    max_frames: int | None = None
    landmarks: bool = False
    annotate: str | None = None


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
    skipped_paths: list = field(default_factory=list)   # (path, why)

    def line(self) -> str:
        rate = self.faces / self.seconds if self.seconds else 0.0
        resumed = f", {self.resumed} already done" if self.resumed else ""
        return (f"{self.inputs} inputs ({self.images} images, {self.videos} videos{resumed}), "
                f"{self.frames} frames, {self.faces} faces, {self.skipped} skipped, {self.errors} errors "
                f"in {self.seconds:.1f} s ({rate:.1f} faces/s) -> {self.output}")


@dataclass(frozen=True)
class Work:
    """One unit of work: an image, a whole video, or the source frames [start, stop) of a video.

    ``stop`` None means to the end: the source's last piece. ``key`` names the piece in the
    output's journal.
    """

    source: Source
    start: int = 0
    stop: int | None = None

    @property
    def key(self) -> str:
        if self.start == 0 and self.stop is None:
            return self.source.path
        return f"{self.source.path}#frames={self.start}-{'' if self.stop is None else self.stop}"


def plan(sources: list[Source], options: Options) -> list[Work]:
    """Cut each video into pieces of SEGMENT_FRAMES frames (by its header's frame count).

    A video that cannot be opened stays whole (its worker writes the error row); so does every
    video when annotated copies are asked for, since one worker writes one annotated file.
    """
    works = []
    for source in sources:
        if source.media_type != "video" or options.annotate:
            works.append(Work(source))
            continue
        try:
            reader = VideoReader(source.path, options.every, options.fps, options.max_frames)
            reader.capture.release()
        except InputError:
            works.append(Work(source))
            continue
        frames = reader.frame_count if reader.stop is None else min(reader.frame_count, reader.stop)
        starts = list(range(0, max(frames, 1), SEGMENT_FRAMES))
        works += [Work(source, a, b) for a, b in zip(starts, starts[1:] + [None])]
    return works


# --- rows ------------------------------------------------------------------------------------------

def base_row(source: Source, frame_index, timestamp_s, width, height, status: str, error=None) -> dict:
    return {"source": source.path, "media_type": source.media_type, "frame_index": frame_index,
            "timestamp_s": timestamp_s, "width": width, "height": height, "face_index": None,
            "status": status, "error": error}


def face_rows(source, frame_index, timestamp_s, width, height, faces, landmarks: bool) -> list[dict]:
    """The rows of one image or frame (``width`` x ``height`` pixels): one per face, or one ``no_face`` row."""
    if not faces:
        return [base_row(source, frame_index, timestamp_s, width, height, "no_face")]
    rows = []
    for i, face in enumerate(faces):
        row = base_row(source, frame_index, timestamp_s, width, height, "ok")
        row["face_index"] = i
        row.update(zip(("box_x", "box_y", "box_w", "box_h"), face.box))
        row["det_score"] = face.score
        for name in KAGGLE_COLUMNS:
            row[name] = None
        for name, (x, y) in face.keypoints.items():
            row[f"{name}_x"], row[f"{name}_y"] = x, y
        row["emotion"], row["emotion_score"] = face.emotion, face.emotion_score
        row.update({f"p_{c}": p for c, p in face.probabilities.items()})
        if landmarks:
            for name, (x, y) in face.landmarks.items():
                row[f"lm_{name}_x"], row[f"lm_{name}_y"] = x, y
        rows.append(row)
    return rows


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1] if text else ''}".strip(": ")


# --- work done in a worker -------------------------------------------------------------------------

_analyzer = None
_options: Options | None = None


def init_worker(options: Options) -> None:
    """Load the models once for this process and pin it to one thread (parallelism is the processes')."""
    global _analyzer, _options
    import cv2

    from batchface.analysis import Analyzer

    cv2.setNumThreads(1)
    _options = options
    _analyzer = Analyzer(options.detector, options.detector_model, threads=1, min_face=options.min_face)


def process(task: list[Work]) -> list[tuple[Work, list[dict], int]]:
    """Rows of each piece of work, with the number of frames read; never raises."""
    images = [w for w in task if w.source.media_type == "image"]
    out = {w: None for w in task}
    for work, rows in zip(images, _image_rows([w.source for w in images])):
        out[work] = (work, rows, 1 if rows[0]["status"] != "error" else 0)
    for work in task:
        if work.source.media_type == "video":
            out[work] = _video_rows(work)
    return list(out.values())


def _image_rows(sources: list[Source]) -> list[list[dict]]:
    decoded, results = [], {}
    # an annotated copy is drawn at full size; otherwise a large JPEG is decoded no larger than the detector needs
    side_needed = None if _options.annotate else _analyzer.detector.side_needed
    for s in sources:
        try:
            decoded.append((s, read_picture(s.path, side_needed)))
        except InputError as e:
            results[s] = [base_row(s, 0, None, None, None, "error", str(e))]
        except Exception as e:  # anything else a decoder throws stays this file's problem
            results[s] = [base_row(s, 0, None, None, None, "error", one_line(e))]
    try:
        faces_per_image = _analyzer.analyze_pictures([picture for _, picture in decoded])
    except Exception:
        faces_per_image = None  # analyse one by one below, so one bad image cannot spoil its batch
    for i, (s, picture) in enumerate(decoded):
        try:
            faces = faces_per_image[i] if faces_per_image is not None else _analyzer.analyze_pictures([picture])[0]
        except Exception as e:
            results[s] = [base_row(s, 0, None, picture.width, picture.height, "error", one_line(e))]
            continue
        results[s] = face_rows(s, 0, None, picture.width, picture.height, faces, _options.landmarks)
        if _options.annotate:
            try:
                annotate.write_image(annotate.mirrored_path(_options.annotate, s.path, "image"),
                                     annotate.draw(picture.image, faces))
            except Exception as e:  # the rows are good; say in them that their picture is missing
                for row in results[s]:
                    row["error"] = f"annotated copy not written: {one_line(e)}"
    return [results[s] for s in sources]


def _video_rows(work: Work) -> tuple[Work, list[dict], int]:
    source = work.source
    rows, frames = [], 0
    sink = None
    try:
        reader = VideoReader(source.path, _options.every, _options.fps, _options.max_frames, work.start, work.stop)
        if _options.annotate:
            sink = annotate.VideoSink(annotate.mirrored_path(_options.annotate, source.path, "video"),
                                      reader.sample_fps)
        batch = []
        for frame in reader:
            batch.append(frame)
            if len(batch) == FRAMES_PER_BATCH:
                rows += _frame_rows(source, batch, sink)
                frames += len(batch)
                batch = []
        if batch:
            rows += _frame_rows(source, batch, sink)
            frames += len(batch)
        if frames == 0 and work.start == 0:
            rows = [base_row(source, None, None, reader.width or None, reader.height or None, "error",
                             "no frame could be decoded")]
    except InputError as e:
        rows = [base_row(source, None, None, None, None, "error", str(e))]
    except Exception as e:
        # rows of frames already analysed stay; one error row says where the video broke
        rows.append(base_row(source, None, None, None, None, "error", f"after {frames} frames: {one_line(e)}"))
    finally:
        if sink is not None:
            sink.close()
    if sink is not None and sink.error:  # the rows are good; say in them that their video is missing
        for row in rows:
            row["error"] = row["error"] or sink.error
    return work, rows, frames


def _frame_rows(source, frames, sink) -> list[dict]:
    try:
        faces_per_frame = _analyzer.analyze_batch([f.image for f in frames])
    except Exception:
        faces_per_frame = [None] * len(frames)  # analyse one by one: one bad frame spoils only itself
    rows = []
    for frame, faces in zip(frames, faces_per_frame):
        try:
            faces = faces if faces is not None else _analyzer.analyze(frame.image)
        except Exception as e:
            rows.append(base_row(source, frame.index, frame.timestamp_s, *frame.image.shape[1::-1], "error",
                                 one_line(e)))
            continue
        rows += face_rows(source, frame.index, frame.timestamp_s, *frame.image.shape[1::-1], faces, _options.landmarks)
        if sink is not None:
            sink.write(annotate.draw(frame.image, faces))
    return rows


# --- the run ---------------------------------------------------------------------------------------

def tasks_of(works: list[Work]):
    """Group consecutive images into tasks of IMAGES_PER_TASK; each piece of video is a task of its own."""
    group: list[Work] = []
    for w in works:
        if w.source.media_type == "video":
            if group:
                yield group
                group = []
            yield [w]
        else:
            group.append(w)
            if len(group) == IMAGES_PER_TASK:
                yield group
                group = []
    if group:
        yield group


def run(paths=(), out="results.parquet", fmt: str | None = None, options: Options | None = None,
        workers: int | None = None, resume: bool = False, overwrite: bool = False, files_from=None,
        progress: bool = True, commit_seconds: float = 2.0) -> Summary:
    """Analyse every image and video under ``paths`` into the table ``out``; returns a summary.

    ``workers``: processes (default: the number of CPUs; 0 runs in this process). ``resume``
    finishes a killed run at ``out``; ``overwrite`` replaces an existing ``out``;
    rows are made durable every ``commit_seconds``.
    """
    from tqdm import tqdm

    from batchface.analysis import Analyzer
    from batchface.models import sha256_of

    options = options or Options()
    fmt = format_of(out, fmt)
    paths = list(paths) + (read_paths_file(files_from) if files_from else [])
    summary = Summary(output=str(out))
    sources = list(dict.fromkeys(walk(paths, summary.skipped_paths)))
    summary.skipped = len(summary.skipped_paths)
    workers = (os.cpu_count() or 1) if workers is None else workers

    analyzer = Analyzer(options.detector, options.detector_model, min_face=options.min_face)  # validates options
    table_schema = schema(analyzer.expression.classes, analyzer.keypoints.names if options.landmarks else ())
    checker = getattr(analyzer.detector, "checker", None)
    metadata = {"batchface_version": __version__, "detector": analyzer.detector_name,
                "detector_sha256": sha256_of(analyzer.detector.path),
                "detector_check_sha256": sha256_of(checker.path) if checker else None,
                "keypoint_model_sha256": analyzer.keypoints.sha256,
                "expression_model_sha256": analyzer.expression.sha256, "options": asdict(options)}
    if overwrite and not resume:
        remove_output(out)
    writer = TableWriter(out, fmt, table_schema, metadata, resume=resume, commit_seconds=commit_seconds)
    done = set(writer.done)
    todo = [w for w in plan([s for s in sources if s.path not in done], options) if w.key not in done]
    summary.inputs = len(sources)
    summary.resumed = len(sources) - len({w.source for w in todo})
    # inputs that failed before a --resume still count: the exit status covers the whole table
    source_paths = {s.path for s in sources}
    failed = {k if k in source_paths else k.rpartition("#frames=")[0] for k in writer.failed}
    summary.errors = len(failed & source_paths)

    start = time.monotonic()
    bar = tqdm(total=len(sources), initial=summary.resumed, unit="input", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    finished = False
    try:
        for results in _results(todo, options, workers, analyzer, tick=commit_seconds or 1.0):
            if results is None:  # nothing new for a while: make what is pending durable
                writer.flush()
                continue
            for work, rows, frames in results:
                writer.commit(work.key, rows)
                summary.frames += frames
                summary.faces += sum(r["status"] == "ok" for r in rows)
                if any(r["status"] == "error" for r in rows):
                    failed.add(work.source.path)
                if work.stop is None:  # an input is done with its last piece
                    summary.images += work.source.media_type == "image"
                    summary.videos += work.source.media_type == "video"
                    bar.update(1)
            summary.errors = len(failed & source_paths)
            elapsed = time.monotonic() - start
            bar.set_postfix(frames=summary.frames, faces=summary.faces,
                            faces_per_s=f"{summary.faces / max(elapsed, 1e-9):.1f}", refresh=False)
        finished = True
    finally:
        bar.close()
        writer.close(finished=finished)
    summary.seconds = time.monotonic() - start
    return summary


def _results(todo, options, workers, analyzer, tick: float):
    """Results of each task, in task order; None every ``tick`` seconds that nothing arrives."""
    global _analyzer, _options
    if workers == 0:
        _analyzer, _options = analyzer, options
        for task in tasks_of(todo):
            yield process(task)
        return
    yield from ordered_pool_results(list(tasks_of(todo)), process, workers, init_worker, (options,), tick)


def ordered_pool_results(tasks, fn, workers: int, initializer, initargs, tick: float):
    """``fn(task)`` for each task in worker processes, yielded in task order; None every ``tick``
    seconds that nothing arrives.

    A worker that dies (a decoder's segfault, the OOM killer) breaks the pool: the pool is started
    again, the oldest unfinished task is cut into one task per input, and the first of those is
    retried alone; an input that breaks a pool on its own yields :func:`crashed` rows and the run
    goes on. (Tasks are lists of :class:`Work`.)
    """
    from concurrent.futures import ProcessPoolExecutor, TimeoutError
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context(START_METHOD)
    pending, suspect = deque(tasks), None
    while pending:
        alone = pending[0] is suspect
        pool = ProcessPoolExecutor(1 if alone else workers, mp_context=ctx, initializer=initializer,
                                   initargs=initargs)
        in_flight, stopped = deque(), True
        try:
            while pending or in_flight:
                while pending and len(in_flight) < (1 if alone else 2 * workers):
                    future = pool.submit(fn, pending[0])  # raises if the pool broke: the task stays pending
                    in_flight.append((pending.popleft(), future))
                try:
                    result = in_flight[0][1].result(timeout=tick)
                except TimeoutError:
                    yield None
                    continue
                in_flight.popleft()
                yield result
                if alone:
                    break  # the suspect was innocent: back to a full pool
            stopped = False
        except BrokenProcessPool:
            stopped = False
            tasks_back = [task for task, _ in in_flight]  # none if a worker died between tasks
            if alone and tasks_back:
                yield crashed(tasks_back[0])
                tasks_back = tasks_back[1:]
            elif tasks_back:  # retried input by input, so that only the guilty one gets the error row
                tasks_back = [[work] for work in tasks_back[0]] + tasks_back[1:]
                suspect = tasks_back[0]
            pending.extendleft(reversed(tasks_back))
        finally:
            if stopped:  # the caller gave up (an error, Ctrl-C): do not wait for the tasks running
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)


def crashed(task: list[Work]) -> list[tuple[Work, list[dict], int]]:
    """The rows of a task whose worker process died: one error row per input."""
    return [(w, [base_row(w.source, None, None, None, None, "error", "the worker process died on this input")], 0)
            for w in task]


def remove_output(out) -> None:
    """Delete an output and what a killed run left beside it."""
    import shutil
    out = Path(out)
    for p in (out, out.with_name(out.name + ".progress")):
        if p.exists():
            p.unlink()
    parts = out.with_name(out.name + ".parts")
    if parts.exists():
        shutil.rmtree(parts)


__all__ = ["Options", "Summary", "run"]
