"""The annotated copies of videos analysed in pieces: drawn once the table holds the whole videos'
track ids, a piece a task on the run's engine, then joined into each video's copy."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from batchface.engine.plan import Work
from batchface.engine.summary import failure_line
from batchface.errors import one_line
from batchface.media.inputs import Source
from batchface.media.video import VideoReader
from batchface.options import Options
from batchface.output import annotate, copy_paths
from batchface.output.annotate import join_pieces

if TYPE_CHECKING:
    from batchface.engine.engines import Executor


@dataclass(frozen=True)
class Drawing:
    """The annotated copy of a piece of a video to draw.

    Attributes:
        work: the piece.
        ids: the whole video's track id of each of the piece's own.
    """

    work: Work
    ids: dict[int, int]


#: a piece of an annotated copy drawn: (its path, None), or (None, why it is not there)
Drawn = tuple[Path | None, str | None]


def draw_task(options: Options, task: list[Drawing]) -> list[Drawn]:
    """Draw the annotated copy of each piece of a video in ``task``.

    Args:
        options: the run's options (``annotate``: where the copies go).
        task: the pieces to draw.

    Returns:
        For each piece, in order: (its copy's path, None), or (None, why it is not there).
    """
    return [_draw_piece(options, drawing) for drawing in task]


def _video_copy(options: Options, source: Source) -> Path:
    """Where the annotated copy of the video ``source`` goes (only runs with ``--annotate`` draw copies)."""
    if options.annotate is None:
        raise ValueError("annotated copies asked of a run without an annotate folder")
    return copy_paths.mirrored_path(options.annotate, source.relative, "video")


def _draw_piece(options: Options, drawing: Drawing) -> Drawn:
    work = drawing.work
    copy = _video_copy(options, work.source)
    log, sink = copy_paths.piece_path(copy, work.start, ".faces"), None
    try:
        faces = annotate.read_faces(log)
        reader = VideoReader(work.source.path, options.every, options.fps, options.max_frames, work.start, work.stop)
        sink = annotate.VideoSink(
            copy_paths.piece_path(copy, work.start, copy.suffix), reader.sample_fps, options.annotate
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


def draw_copies(drawings: list[Drawing], options: Options, doer: Executor) -> None:
    """Draw the pieces of videos, a task each, and join each video's pieces into its copy.

    A copy that cannot be written is said on standard error: the rows are committed already.

    Args:
        drawings: the pieces, in order, a video's together.
        options: the run's options (``annotate``: where the copies go).
        doer: the run's engine (:meth:`batchface.engine.engines.Executor.each`).
    """
    by_video: dict[Source, list[Drawing]] = {}
    for drawing in drawings:
        by_video.setdefault(drawing.work.source, []).append(drawing)
    whole = [d for pieces in by_video.values() if pieces[0].work.start == 0 for d in pieces]
    for source, pieces in by_video.items():
        if pieces[0].work.start != 0:  # its first pieces were committed by a run before this --resume
            copy = _video_copy(options, source)
            for kept in copy.parent.glob(f".{copy.name}.piece-*"):
                kept.unlink(missing_ok=True)
            print(
                failure_line(source.path, "annotated copy not written: the run was resumed within this video"),
                file=sys.stderr,
            )
    done = doer.each(draw_task, [[drawing] for drawing in whole], _not_drawn)
    written: list[Drawn] = []
    for drawing, [(path, why)] in zip(whole, done):
        written.append((path, why))
        if drawing.work.last:
            _join(drawing.work.source, written, options)
            written = []


def _not_drawn(task: list[Drawing], why: str) -> list[Drawn]:
    """The answer for a piece whose worker died drawing it."""
    return [(None, f"annotated copy not written: {why}")]


def _join(source: Source, written: list[Drawn], options: Options) -> None:
    """Join the drawn pieces (path, why not) of a video's copy, or say why it cannot be."""
    why = next((w for _, w in written if w), None)
    try:
        if why is None:
            paths = [path for path, _ in written if path is not None]  # each, where none says why not
            copy = _video_copy(options, source).with_suffix(paths[0].suffix)
            join_pieces(paths, copy, options.annotate)
    except Exception as e:
        why = f"annotated copy not written: {one_line(e)}"
    finally:
        for path, _ in written:
            if path is not None:
                path.unlink(missing_ok=True)
    if why:
        print(failure_line(source.path, why), file=sys.stderr)
