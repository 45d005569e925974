"""The annotated copies of videos analysed in pieces: drawn once the table holds the whole videos'
track ids, a piece a task on the run's engine, then joined into each video's copy."""

from __future__ import annotations

import sys

from batchface.engine.summary import failure_line
from batchface.engine.worker import Drawing, draw_task
from batchface.errors import one_line
from batchface.output.annotate import join_pieces, mirrored_path


def draw_copies(drawings: list[Drawing], options, doer) -> None:
    """Draw the pieces of ``drawings`` on the engine ``doer`` (:meth:`Executor.each`) and join each
    video's pieces into its copy (:func:`batchface.output.annotate.join_pieces`). A copy that cannot
    be written is said on standard error: the rows are committed already."""
    by_video: dict = {}
    for drawing in drawings:
        by_video.setdefault(drawing.work.source, []).append(drawing)
    whole = [d for pieces in by_video.values() if pieces[0].work.start == 0 for d in pieces]
    for source, pieces in by_video.items():
        if pieces[0].work.start != 0:  # its first pieces were committed by a run before this --resume
            copy = mirrored_path(options.annotate, source.relative, "video")
            for kept in copy.parent.glob(f".{copy.name}.piece-*"):
                kept.unlink(missing_ok=True)
            print(
                failure_line(source.path, "annotated copy not written: the run was resumed within this video"),
                file=sys.stderr,
            )
    failed = lambda task, why: [(None, f"annotated copy not written: {why}")]  # noqa: E731
    done = doer.each(draw_task, [[drawing] for drawing in whole], failed)
    written: list = []
    for drawing, [(path, why)] in zip(whole, done):
        written.append((path, why))
        if drawing.work.last:
            _join(drawing.work.source, written, options)
            written = []


def _join(source, written: list, options) -> None:
    """Join the drawn pieces (path, why not) of a video's copy, or say why it cannot be."""
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
