"""What a worker does: the rows of one task (images, or a piece of a video), with the models loaded
once. Every engine calls :func:`run_task`: the worker processes of a local run, a run in the calling
process, and a Ray actor.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

from batchface.engine.plan import Work
from batchface.errors import InputError, one_line
from batchface.faces.tracking import PieceTracks, Tracker
from batchface.media.decoding import read_picture
from batchface.media.video import VideoReader
from batchface.output import annotate, table

FRAMES_PER_BATCH = 16  # video frames whose faces share one model call

#: where this process says how many images and video frames it has read, for the progress bar:
#: set by :func:`report_progress_to` (None: nowhere)
_progress = None


def report_progress_to(channel) -> None:
    """Send this process's counts of frames read and faces found, (frames, faces), to ``channel``: a
    callable taking them, or the sending end of a pipe (:func:`multiprocessing.Pipe`) whose reader is
    the run's process. Each count is one message of a few bytes, written to the pipe whole, so worker
    processes share it without a lock, and one killed mid-run cannot leave half a message in it."""
    global _progress
    _progress = channel if channel is None or callable(channel) else channel.send


def _read(frames: int, rows=()) -> None:
    """Tell the run of ``frames`` images or video frames read, and the faces of their ``rows``."""
    if _progress is not None and frames:
        _progress((frames, sum(r["status"] == "ok" for r in rows)))


@dataclass
class Result:
    """The rows of one unit of work, and the number of image or video frames read; a video's
    ``tracks``, whose ids in ``track_id`` are the piece's own until renumbered for the whole video
    (:meth:`batchface.faces.tracking.VideoTracks.renumber`)."""

    work: Work
    rows: list[dict]
    frames: int
    tracks: PieceTracks | None = None


class Worker:
    """The analysis of a run's options (:class:`batchface.options.Options`), on one thread: the
    parallelism is the processes'."""

    def __init__(self, options):
        import cv2

        from batchface.faces.analysis import Analyzer

        cv2.setNumThreads(1)
        self.options = options
        self.analyzer = Analyzer.for_options(options, threads=1)

    def rows(self, task: list[Work]) -> list[Result]:
        """The results of a task, in its order; an input's failure is its own error row, never raised."""
        images = [w for w in task if w.source.media_type == "image"]
        done = dict(zip(images, self._images(images)))
        _read(len(images), [row for result in done.values() for row in result.rows])
        return [done[w] if w in done else self._video(w) for w in task]

    def _images(self, works: list[Work]) -> list[Result]:
        pictures, results = {}, {}
        # an annotated copy is drawn at full size; otherwise a large JPEG is decoded no larger than needed
        side_needed = None if self.options.annotate else self.analyzer.detector.side_needed
        for w in works:
            try:
                pictures[w] = read_picture(w.source.path, side_needed)
            except Exception as e:  # anything a decoder throws stays this file's problem
                message = str(e) if isinstance(e, InputError) else one_line(e)
                results[w] = Result(w, [table.error_row(table.where(w.source, 0), message)], 0)
        for (w, picture), faces in zip(
            pictures.items(), each_alone_if_need_be(self.analyzer.analyze_pictures, list(pictures.values()))
        ):
            at = table.where(w.source, 0, None, picture.width, picture.height)
            if isinstance(faces, Exception):
                results[w] = Result(w, [table.error_row(at, one_line(faces))], 1)
                continue
            results[w] = Result(w, table.face_rows(at, faces, self.options.landmarks), 1)
            if self.options.annotate:
                try:
                    annotate.write_image(
                        annotate.mirrored_path(self.options.annotate, w.source.relative, "image"),
                        annotate.draw(picture.image, faces),
                        self.options.annotate,
                    )
                except Exception as e:  # the rows are good; say in them that their picture is missing
                    for row in results[w].rows:
                        row["error"] = table.text(f"annotated copy not written: {one_line(e)}")
        return [results[w] for w in works]

    def _video(self, work: Work) -> Result:
        source, rows, frames, sink = work.source, [], 0, None
        tracker = Tracker(self.analyzer.detector, self.options.detect_every)
        try:
            reader = VideoReader(
                source.path, self.options.every, self.options.fps, self.options.max_frames, work.start, work.stop
            )
            sink = self._sink(work, reader) if self.options.annotate else None
            batch = []
            for frame in reader:
                try:
                    batch.append((frame, *tracker.find(frame)))
                except Exception as e:  # this frame's problem: its own error row
                    batch.append((frame, e, None))
                if len(batch) == FRAMES_PER_BATCH:
                    rows += (new := self._frames(source, batch, sink))
                    frames, batch = frames + len(batch), []
                    _read(FRAMES_PER_BATCH, new)
            rows += (new := self._frames(source, batch, sink))
            frames += len(batch)
            _read(len(batch), new)
            rows = with_problems(rows, source, reader)
            if frames == 0 and work.start == 0 and not reader.problems:
                rows = [
                    table.error_row(
                        table.where(source, None, None, reader.width or None, reader.height or None),
                        "no frame could be decoded",
                    )
                ]
        except InputError as e:
            rows = [table.error_row(table.where(source), str(e))]
        except Exception as e:  # rows of frames already analysed stay; one error row says where it broke
            rows.append(table.error_row(table.where(source), f"after {frames} frames: {one_line(e)}"))
        finally:
            if sink is not None:
                sink.close()
        if sink is not None and sink.error:  # the rows are good; say in them that their video is missing
            for row in rows:
                row["error"] = row.get("error") or table.text(sink.error)
        return Result(work, rows, frames, tracker.piece())

    def _sink(self, work: Work, reader: VideoReader):
        """Where a video's annotated frames go: its copy, for a whole video; for a piece, its faces,
        drawn once the track ids are the whole video's (:func:`draw_task`)."""
        copy = annotate.mirrored_path(self.options.annotate, work.source.relative, "video")
        if work.start == 0 and work.last:
            return annotate.VideoSink(copy, reader.sample_fps, self.options.annotate)
        return annotate.FacesLog(annotate.piece_path(copy, work.start, ".faces"))

    def _frames(self, source, batch, sink) -> list[dict]:
        """The rows of (frame, its faces' detections or the exception that stopped them, their track
        ids); the faces of all frames go through each model in one call."""
        found = [(frame, detections) for frame, detections, _ in batch if not isinstance(detections, Exception)]
        analysed = iter(
            each_alone_if_need_be(
                lambda items: self.analyzer.run_models([f.image for f, _ in items], [d for _, d in items]), found
            )
        )
        rows = []
        for frame, detections, ids in batch:
            at = table.where(source, frame.index, frame.timestamp_s, *frame.image.shape[1::-1])
            faces = detections if isinstance(detections, Exception) else next(analysed)
            if isinstance(faces, Exception):
                rows.append(table.error_row(at, one_line(faces)))
                continue
            rows += table.face_rows(at, faces, self.options.landmarks, ids)
            if sink is not None:
                sink.add(frame.index, frame.image, faces, ids)
        return rows


@dataclass(frozen=True)
class Drawing:
    """The annotated copy of a piece of a video (``work``) to draw, with ``ids``: the whole video's
    track id of each of the piece's own."""

    work: Work
    ids: dict


def draw_task(options, task: list[Drawing]) -> list[tuple]:
    """For each piece of ``task``: (the annotated piece's path or None, why it is not there or None)."""
    return [_draw_piece(options, drawing) for drawing in task]


def _draw_piece(options, drawing: Drawing) -> tuple:
    work = drawing.work
    copy = annotate.mirrored_path(options.annotate, work.source.relative, "video")
    log, sink = annotate.piece_path(copy, work.start, ".faces"), None
    try:
        faces = annotate.read_faces(log)
        reader = VideoReader(work.source.path, options.every, options.fps, options.max_frames, work.start, work.stop)
        sink = annotate.VideoSink(
            annotate.piece_path(copy, work.start, copy.suffix), reader.sample_fps, options.annotate
        )
        for frame in reader:
            if frame.index in faces:
                found, ids = faces[frame.index]
                sink.add(frame.index, frame.image, found, None if ids is None else [drawing.ids[i] for i in ids])
        sink.close()
        return (None, sink.error) if sink.error else (sink.path, None)
    except Exception as e:  # the copy's problem, never the rows'
        return None, f"annotated copy not written: {one_line(e)}"
    finally:
        with contextlib.suppress(OSError):  # a log that could not be written, where there is no folder
            log.unlink(missing_ok=True)


def with_problems(rows: list[dict], source, reader: VideoReader) -> list[dict]:
    """The rows of a piece of video with an error row for each span of frames that could not be
    decoded (:attr:`VideoReader.problems`), in frame order: before the rows of the frames after it."""
    for problem in reader.problems:
        at = table.where(source, problem.index, problem.timestamp_s, reader.width or None, reader.height or None)
        place = len(rows)
        if problem.index is not None:
            place = next((k for k, r in enumerate(rows) if (r["frame_index"] or 0) > problem.index), len(rows))
        rows.insert(place, table.error_row(at, problem.message))
    return rows


def each_alone_if_need_be(analyze, items: list) -> list:
    """``analyze(items)`` in one batched call; if that raises, each item alone, so that one bad item
    spoils only itself: its place in the answer holds its exception."""
    try:
        return analyze(items)
    except Exception:
        answers = []
        for item in items:
            try:
                answers.append(analyze([item])[0])
            except Exception as e:
                answers.append(e)
        return answers


def crashed(task: list[Work], why: str) -> list[Result]:
    """The results of a task whose worker process died or ran out of time: one error row per input."""
    return [Result(w, [table.error_row(table.where(w.source), why)], 0) for w in task]


@functools.lru_cache(maxsize=1)
def worker_for(options) -> Worker:
    """This process's worker for ``options``: the models are loaded at its first task, once."""
    return Worker(options)


def run_task(options, task: list[Work]) -> list[Result]:
    """The rows of ``task`` under ``options``, by this process's worker."""
    return worker_for(options).rows(task)
