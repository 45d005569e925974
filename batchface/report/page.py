"""The report's page, ``index.html``: a Jinja2 template (``templates/index.html``) with its CSS and
script inline and its images in files beside it, so that it opens from disk with no network."""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from pathlib import Path

import jinja2

from batchface import __version__
from batchface.report.folders import GALLERY_PER_EMOTION, FolderSection
from batchface.report.plots import color_of
from batchface.report.results import RunSummary
from batchface.report.videos import VideoSection

#: failed inputs listed on the page; the table has them all (rows with status ``error``)
SHOWN_ERRORS = 1000


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("batchface.report", "templates"),
        autoescape=True,  # file names and messages are text, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["basename"] = lambda path: os.path.basename(path) or path
    environment.filters["seconds"] = lambda value: "–" if value is None else f"{value:.2f} s"
    return environment


def write(
    index: Path,
    summary: RunSummary,
    provenance: Sequence[tuple[str, dict | None]],
    videos: Sequence[VideoSection],
    folders: Sequence[FolderSection],
    classes: Sequence[str],
    window_s: float,
    tracks: int,
) -> None:
    """Render the page, written whole or not at all (a temporary file renamed).

    Args:
        index: the page's file.
        summary: what the tables hold.
        provenance: each table's path and provenance (:class:`batchface.report.results.Results`).
        videos: the videos' sections.
        folders: the folders of images' sections.
        classes: the expression classes, in the model's order.
        window_s: the timelines' smoothing window, seconds.
        tracks: the number of tracks in ``tracks.parquet``.
    """
    html = (
        _environment()
        .get_template("index.html")
        .render(
            summary=summary,
            errors=summary.errors[:SHOWN_ERRORS],
            provenance=provenance,
            videos=videos,
            folders=folders,
            classes=classes,
            colors={c: color_of(c, classes) for c in classes},
            window_s=window_s,
            tracks=tracks,
            per_emotion=GALLERY_PER_EMOTION,
            version=__version__,
            made=datetime.datetime.now().isoformat(timespec="seconds"),
        )
    )
    temporary = index.with_name(f".{index.name}.tmp")
    temporary.write_text(html, encoding="utf-8")
    os.replace(temporary, index)
