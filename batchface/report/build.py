"""``batchface report``: read the tables, write ``tracks.parquet``, the plots, the thumbnails and
``index.html`` into one folder."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from batchface.output.table import MEDIA_TYPE, SOURCE, STATUS
from batchface.report import page
from batchface.report.folders import folder_section, image_rows
from batchface.report.grouping import split_by
from batchface.report.results import read_results, summarize
from batchface.report.smoothing import WINDOW_S
from batchface.report.thumbnails import locate
from batchface.report.tracks import classes_of, tracks
from batchface.report.videos import video_section
from batchface.vocabulary import MediaType, Status


@dataclass
class Report:
    """Where the report went: ``index`` (the page) and ``tracks`` (the per-track table), and what it
    holds: sections of ``videos`` and of image ``folders``; ``seconds`` it took."""

    index: Path
    tracks: Path
    videos: int
    folders: int
    seconds: float


def write_report(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    window_s: float = WINDOW_S,
    progress: bool = True,
) -> Report:
    """Write the report of the tables at ``paths`` into a folder.

    Args:
        paths: the tables ``batchface run`` wrote (:func:`batchface.report.results.read_results`).
        out: the report's folder, made if missing; the report's own files in it are replaced.
        window_s: the smoothing window of the timelines, in seconds of video time
            (:func:`batchface.report.smoothing.centred_mean`).
        progress: a bar on standard error while the sources are read and the plots drawn.

    Returns:
        Where the report went and what it holds.

    Raises:
        ValueError: ``window_s`` is negative, or a path is not a batchface table.
        FileNotFoundError: a path does not exist.
    """
    started = time.monotonic()
    out = Path(out)
    if window_s < 0:
        raise ValueError(f"the smoothing window must be 0 s or more, not {window_s}")
    results = read_results(paths)
    table, bases = results.table, [Path(p).resolve().parent for p in paths]
    out.mkdir(parents=True, exist_ok=True)
    per_track = tracks(table)
    pq.write_table(per_track, out / "tracks.parquet")
    classes = classes_of(table)
    videos = table.filter(pc.equal(table[MEDIA_TYPE], MediaType.video.value)) if table.num_rows else table
    tracks_of = dict(split_by(per_track, [SOURCE]))
    images = image_rows(table) if table.num_rows else table
    # a video that failed is listed as an error only
    read = videos.filter(pc.not_equal(videos[STATUS], Status.error.value))
    video_groups = list(split_by(videos.filter(pc.is_in(videos[SOURCE], read[SOURCE])), [SOURCE]))
    folder_groups = list(split_by(images, ["folder"])) if images.num_rows else []
    bar = tqdm(total=len(video_groups) + len(folder_groups), unit="part", disable=not progress, desc="report")
    sections, galleries = [], []
    for number, ((source,), rows) in enumerate(video_groups):
        own = tracks_of.get((source,), per_track.slice(0, 0))
        where = out / "videos" / f"{number:04d}"
        sections.append(video_section(source, rows, own, classes, where, out, locate(source, bases), window_s))
        bar.update()
    for number, ((folder,), rows) in enumerate(folder_groups):
        galleries.append(folder_section(folder, rows, classes, out, out / "images" / f"{number:04d}", bases))
        bar.update()
    bar.close()
    index = out / "index.html"
    page.write(index, summarize(table), results.provenance, sections, galleries, classes, window_s, len(per_track))
    return Report(index, out / "tracks.parquet", len(sections), len(galleries), time.monotonic() - started)
