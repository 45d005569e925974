"""A folder of images' part of the report: how many faces have each expression, and a gallery of
face thumbnails with the file each comes from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from batchface.errors import InputError
from batchface.media.decoding import read_image
from batchface.output.table import EMOTION, EMOTION_SCORE, FACE_INDEX, MEDIA_TYPE, SOURCE, STATUS
from batchface.report import plots
from batchface.report.grouping import first_per_group, split_by
from batchface.report.thumbnails import crop_face, locate, write_jpeg
from batchface.vocabulary import MediaType, Status

#: faces of each expression in a folder's gallery: those the model is surest of
GALLERY_PER_EMOTION = 12


@dataclass
class GalleryFace:
    """A face of a folder's gallery: its thumbnail's file, and the row it comes from."""

    thumbnail: str  # relative to the report's folder; "" when the image was not found
    source: str
    face_index: int
    emotion: str
    emotion_score: float


@dataclass
class FolderSection:
    """A folder of images' part of the page: how many ``images`` and ``faces``, faces by expression
    (``counts``) and their plot's file (``distribution``), and the faces of its gallery."""

    folder: str
    images: int
    faces: int
    counts: dict
    distribution: str
    gallery: list[GalleryFace] = field(default_factory=list)
    missing: int = 0  # images of the gallery not found here


def folder_of(sources: pa.ChunkedArray) -> pa.ChunkedArray:
    """Each path's folder: the part before its last ``/`` (``.`` for a bare file name).

    Args:
        sources: a table's ``source`` column.

    Returns:
        Their folders, in their order.
    """
    parent = pc.replace_substring_regex(sources, r"/[^/]*$", "")
    return pc.if_else(pc.match_substring(sources, "/"), parent, pa.scalar("."))


def image_rows(table: pa.Table) -> pa.Table:
    """The rows of images that could be read, with a ``folder`` column (:func:`folder_of`).

    Args:
        table: the rows of the tables read.

    Returns:
        Those rows.
    """
    rows = table.filter(
        pc.and_(pc.equal(table[MEDIA_TYPE], MediaType.image.value), pc.not_equal(table[STATUS], Status.error.value))
    )
    return rows.append_column("folder", folder_of(rows[SOURCE]))


def folder_section(
    folder: str, rows: pa.Table, classes: Sequence[str], out: Path, assets: Path, bases: Sequence[Path]
) -> FolderSection:
    """The section of a folder of images, its plot and thumbnails written.

    Args:
        folder: the folder, as its images' ``source`` paths name it.
        rows: its images' rows (:func:`image_rows`).
        classes: the expression classes, in the model's order.
        out: the report's folder.
        assets: where this section's files go, inside ``out``.
        bases: folders to look for the images in (:func:`batchface.report.thumbnails.locate`).

    Returns:
        The section; images not found here are counted in ``missing``, their faces without thumbnails.
    """
    faces = rows.filter(pc.equal(rows[STATUS], Status.ok.value))
    grouped = faces.group_by([EMOTION]).aggregate([(SOURCE, "count")]).to_pylist()
    counted = {r[EMOTION]: r["source_count"] for r in grouped}
    # the model's classes in its order, then any other (a table made by another model)
    counts = {c: counted[c] for c in classes if c in counted} | {c: n for c, n in counted.items() if c not in classes}
    plots.distribution(counts, assets / "emotions.png", f"expressions of {faces.num_rows} faces")
    images = rows.group_by([SOURCE]).aggregate([]).num_rows
    section = FolderSection(
        folder, images, faces.num_rows, counts, (assets / "emotions.png").relative_to(out).as_posix()
    )
    chosen = first_per_group(faces, [EMOTION], [(EMOTION_SCORE, "descending")], GALLERY_PER_EMOTION)
    chosen = chosen.select([SOURCE, FACE_INDEX, EMOTION, EMOTION_SCORE, *[f"box_{a}" for a in "xywh"]])
    for (source,), own in split_by(chosen, [SOURCE]):
        path = locate(source, bases)
        image = None
        if path is not None:
            try:
                image = read_image(path)
            except InputError:
                pass
        section.missing += image is None
        for r in own.to_pylist():
            name = ""
            if image is not None:
                target = assets / f"face_{len(section.gallery):05d}.jpg"
                write_jpeg(target, crop_face(image, [r[f"box_{a}"] for a in "xywh"]))
                name = target.relative_to(out).as_posix()
            section.gallery.append(GalleryFace(name, source, r[FACE_INDEX], r[EMOTION], r[EMOTION_SCORE]))
    section.gallery.sort(key=lambda g: (list(counts).index(g.emotion), -g.emotion_score))
    return section
