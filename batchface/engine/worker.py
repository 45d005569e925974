"""What a worker does: the rows of one task (images, or a piece of a video), with the models loaded
once. Every engine calls :func:`run_task`: the worker processes of a local run, a run in the calling
process, and a Ray actor.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from batchface.engine.plan import Work
from batchface.errors import InputError, one_line
from batchface.faces.boxes import Detections
from batchface.faces.tracking import PieceTracks, Tracker
from batchface.media.decoding import read_picture
from batchface.media.inputs import Source
from batchface.media.video import Frame, VideoReader
from batchface.options import Options
from batchface.output import annotate, copy_paths, drawing, table
from batchface.vocabulary import MediaType, Status

FRAMES_PER_BATCH = 16  # video frames whose faces share one model call
T = TypeVar("T")  # what a batched call takes
U = TypeVar("U")  # what it answers for each
#: a sampled video frame, with its faces' detections (or the exception that stopped them) and their track ids
Found = tuple[Frame, Detections | Exception, list[int] | None]

#: where a worker says, as it reads, how many images and video frames it has read and how many faces
#: it found in them, ``progress((frames, faces))``, for the run's progress bar
Progress = Callable[[tuple[int, int]], None]


def _read(progress: Progress | None, frames: int, rows: Iterable[dict] = ()) -> None:
    """Tell ``progress`` of ``frames`` images or video frames read, and the faces of their ``rows``."""
    if progress is not None and frames:
        progress((frames, sum(r[table.STATUS] == Status.ok for r in rows)))


@dataclass
class Result:
    """What a worker made of one unit of work.

    Attributes:
        work: the image, or video or piece of one.
        rows: the table's rows.
        frames: the images or video frames read.
        tracks: a video's tracks, whose ids in ``track_id`` are the piece's own until renumbered for
            the whole video (:meth:`batchface.faces.tracking.VideoTracks.renumber`); None for an image.
    """

    work: Work
    rows: list[dict]
    frames: int
    tracks: PieceTracks | None = None


class Worker:
    """The analysis of a run, on one thread: the parallelism is the processes'.

    Args:
        options: the run's options; the models are loaded here.
    """

    def __init__(self, options: Options):
        import cv2

        from batchface.faces.analysis import Analyzer

        cv2.setNumThreads(1)
        self.options = options
        self.analyzer = Analyzer.for_options(options, threads=1)

    def rows(self, task: list[Work], progress: Progress | None = None) -> list[Result]:
        """The results of a task; an input's failure is its own error row, never raised.

        Args:
            task: images, and videos or pieces of them, to analyse.
            progress: told ``(frames, faces)`` as images and video frames are read (:data:`Progress`; None: nobody).

        Returns:
            One result per unit of work, in the task's order.
        """
        images = [w for w in task if w.source.media_type == MediaType.image]
        done = dict(zip(images, self._images(images)))
        _read(progress, len(images), [row for result in done.values() for row in result.rows])
        return [done[w] if w in done else self._video(w, progress) for w in task]

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
                        copy_paths.mirrored_path(self.options.annotate, w.source.relative, "image"),
                        drawing.draw(picture.image, faces),
                        self.options.annotate,
                    )
                except Exception as e:  # the rows are good; say in them that their picture is missing
                    for row in results[w].rows:
                        row[table.ERROR] = table.text(f"annotated copy not written: {one_line(e)}")
        return [results[w] for w in works]

    def _video(self, work: Work, progress: Progress | None) -> Result:
        source, rows, frames, sink = work.source, [], 0, None
        tracker = Tracker(self.analyzer.detector, self.options.detect_every)
        try:
            reader = VideoReader(
                source.path, self.options.every, self.options.fps, self.options.max_frames, work.start, work.stop
            )
            sink = _sink(work, reader.sample_fps, self.options.annotate) if self.options.annotate else None
            batch: list[Found] = []
            for frame in reader:
                try:
                    batch.append((frame, *tracker.find(frame)))
                except Exception as e:  # this frame's problem: its own error row
                    batch.append((frame, e, None))
                if len(batch) == FRAMES_PER_BATCH:
                    rows += (new := self._frames(source, batch, sink))
                    frames, batch = frames + len(batch), []
                    _read(progress, FRAMES_PER_BATCH, new)
            rows += (new := self._frames(source, batch, sink))
            frames += len(batch)
            _read(progress, len(batch), new)
            rows = with_problems(rows, source, reader)
            if frames == 0 and work.start == 0 and not reader.problems:
                at = table.where(source, None, None, reader.width or None, reader.height or None)
                rows = [table.error_row(at, "no frame could be decoded")]
        except InputError as e:
            rows = [table.error_row(table.where(source), str(e))]
        except Exception as e:  # rows of frames already analysed stay; one error row says where it broke
            rows.append(table.error_row(table.where(source), f"after {frames} frames: {one_line(e)}"))
        finally:
            if sink is not None:
                sink.close()
        if sink is not None and sink.error:  # the rows are good; say in them that their video is missing
            for row in rows:
                row[table.ERROR] = row.get(table.ERROR) or table.text(sink.error)
        return Result(work, rows, frames, tracker.piece())

    def _frames(
        self, source: Source, batch: list[Found], sink: annotate.VideoSink | annotate.FacesLog | None
    ) -> list[dict]:
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


def _sink(work: Work, sample_fps: float, folder: str) -> annotate.VideoSink | annotate.FacesLog:
    """Where a video's annotated frames go, under ``folder``: its copy, for a whole video; for a piece,
    its faces, drawn once the track ids are the whole video's (:func:`batchface.engine.copies.draw_task`)."""
    copy = copy_paths.mirrored_path(folder, work.source.relative, "video")
    if work.start == 0 and work.last:
        return annotate.VideoSink(copy, sample_fps, folder)
    return annotate.FacesLog(copy_paths.piece_path(copy, work.start, ".faces"))


def with_problems(rows: list[dict], source: Source, reader: VideoReader) -> list[dict]:
    """The rows of a piece of video with an error row for each span of frames that could not be decoded.

    Args:
        rows: the piece's rows, in frame order; changed in place.
        source: the video.
        reader: what read the piece (:attr:`VideoReader.problems`: the spans it could not decode).

    Returns:
        ``rows``, each problem's error row in frame order: before the rows of the frames after it.
    """
    for problem in reader.problems:
        at = table.where(source, problem.index, problem.timestamp_s, reader.width or None, reader.height or None)
        place = len(rows)
        if problem.index is not None:
            place = next((k for k, r in enumerate(rows) if (r[table.FRAME_INDEX] or 0) > problem.index), len(rows))
        rows.insert(place, table.error_row(at, problem.message))
    return rows


def each_alone_if_need_be(analyze: Callable[[list[T]], Sequence[U]], items: list[T]) -> list[U | Exception]:
    """``analyze(items)`` in one batched call; if that raises, each item alone.

    Args:
        analyze: answers a list of items with a list of answers, one an item, in order.
        items: what to analyse.

    Returns:
        An answer per item, in order; if the batched call raised, the place of an item that raises
        alone holds its exception, so that one bad item spoils only itself.
    """
    try:
        return list(analyze(items))
    except Exception:
        answers: list[U | Exception] = []
        for item in items:
            try:
                answers.append(analyze([item])[0])
            except Exception as e:
                answers.append(e)
        return answers


def crashed(task: list[Work], why: str) -> list[Result]:
    """The results of a task whose worker process died or ran out of time.

    Args:
        task: the task's units of work.
        why: the error rows' reason.

    Returns:
        One result per unit of work, each one error row.
    """
    return [Result(w, [table.error_row(table.where(w.source), why)], 0) for w in task]


@functools.lru_cache(maxsize=1)
def worker_for(options: Options) -> Worker:
    """This process's worker: the models are loaded at its first task, once.

    Args:
        options: the run's options.

    Returns:
        The worker for ``options``, made at the first call.
    """
    return Worker(options)


def run_task(options: Options, task: list[Work], progress: Progress | None = None) -> list[Result]:
    """The rows of a task, by this process's worker (:func:`worker_for`).

    Args:
        options: the run's options.
        task: the units of work to analyse.
        progress: told ``(frames, faces)`` as images and video frames are read (:data:`Progress`; None: nobody).

    Returns:
        One result per unit of work, in the task's order.
    """
    return worker_for(options).rows(task, progress)
