"""A video's part of the report: when each track is on screen, its timeline and thumbnail, and a
strip of frames with boxes and track ids. Times in seconds of video time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from batchface.errors import InputError, one_line
from batchface.output.drawing import draw_boxes
from batchface.output.table import EMOTION, FRAME_INDEX, STATUS, TIMESTAMP_S, TRACK_ID
from batchface.report import plots
from batchface.report.grouping import split_by
from batchface.report.thumbnails import crop_face, fit_width, video_frames, write_jpeg
from batchface.vocabulary import Status

#: the tracks of a video given a timeline and a thumbnail: the longest (most frames); the others
#: are in tracks.parquet and the page's table of tracks
SHOWN_TRACKS = 12
#: the tracks of a video in its plot of when each is on screen: the longest
PRESENCE_TRACKS = 40
#: the tracks of a video in the page's table: the longest; tracks.parquet has them all
LISTED_TRACKS = 500
#: the frames of the strip, spread evenly over the video's sampled frames, and their width in pixels
STRIP_FRAMES, STRIP_WIDTH = 8, 360


@dataclass
class TrackCard:
    """A track shown with its timeline and thumbnail."""

    track: dict  # the track's row of :func:`batchface.report.tracks.tracks`
    timeline: str  # file names relative to the report's folder; "" when not made
    thumbnail: str = ""


@dataclass
class VideoSection:
    """A video's part of the page: its sampled ``frames``, ``faces`` and ``duration_s`` (seconds),
    the presence plot's file, the strip of frames, the tracks shown and listed, and a ``note``."""

    source: str
    frames: int
    faces: int
    duration_s: float
    presence: str
    strip: list[tuple[str, int, float]] = field(default_factory=list)  # (file, frame index, time)
    cards: list[TrackCard] = field(default_factory=list)
    tracks: list[dict] = field(default_factory=list)  # the page's table: the longest tracks, by id
    track_count: int = 0
    note: str = ""  # why thumbnails or the strip are missing


def video_section(
    source: str,
    rows: pa.Table,
    tracks: pa.Table,
    classes: Sequence[str],
    folder: Path,
    out: Path,
    path: Path | None,
    window_s: float,
) -> VideoSection:
    """The section of a video, its plots, thumbnails and strip written.

    Args:
        source: the video, as the table names it.
        rows: its rows.
        tracks: its rows of the per-track table (:func:`batchface.report.tracks.tracks`).
        classes: the expression classes, in the model's order.
        folder: where this section's files go, inside ``out``.
        out: the report's folder.
        path: the video's file (None: not found, so no thumbnails nor strip).
        window_s: the timelines' smoothing window, seconds.

    Returns:
        The section; its ``note`` says why thumbnails or the strip are missing.
    """
    sampled = rows.filter(pc.is_valid(rows[FRAME_INDEX]))
    faces = sampled.filter(pc.equal(sampled[STATUS], Status.ok.value))
    duration_s = pc.max(sampled[TIMESTAMP_S]).as_py() or 0.0
    frames = sampled.group_by([FRAME_INDEX]).aggregate([]).num_rows
    section = VideoSection(source, frames, faces.num_rows, duration_s, _relative(folder / "presence.png", out))
    longest = sorted(tracks.to_pylist(), key=lambda t: (-t["frames"], t[TRACK_ID]))
    section.tracks = sorted(longest[:LISTED_TRACKS], key=lambda t: t[TRACK_ID])
    section.track_count = len(longest)
    shown = longest[:SHOWN_TRACKS]
    by_track = dict(split_by(faces.select([TRACK_ID, TIMESTAMP_S, *[f"p_{c}" for c in classes]]), [TRACK_ID]))
    drawn = sorted(longest[:PRESENCE_TRACKS], key=lambda t: t[TRACK_ID])
    title = "when each track is on screen" + (f" (the {len(drawn)} longest)" if len(drawn) < len(longest) else "")
    lines = [(t[TRACK_ID], by_track[(t[TRACK_ID],)][TIMESTAMP_S].to_numpy()) for t in drawn]
    plots.presence(lines, duration_s, folder / "presence.png", title)
    for track in sorted(shown, key=lambda t: t[TRACK_ID]):
        own = by_track[(track[TRACK_ID],)].sort_by(TIMESTAMP_S)
        name = folder / f"track_{track[TRACK_ID]:04d}.png"
        probabilities = {c: own[f"p_{c}"].to_numpy(zero_copy_only=False) for c in classes}
        times_s = own[TIMESTAMP_S].to_numpy()
        plots.timeline(times_s, probabilities, window_s, name, f"track #{track[TRACK_ID]}")
        section.cards.append(TrackCard(track, _relative(name, out)))
    if path is None:
        section.note = "the video was not found here: no thumbnails nor frames"
        return section
    try:
        _cut(section, sampled, path, folder, out)
    except InputError as e:
        section.note = f"frames could not be read: {one_line(e, with_type=False)}"
    return section


def _cut(section: VideoSection, sampled: pa.Table, path: Path, folder: Path, out: Path) -> None:
    """Read the video once for the thumbnails of the shown tracks (their best frames) and the strip."""
    indices = np.unique(sampled[FRAME_INDEX].to_numpy())
    strip = set(indices[np.linspace(0, len(indices) - 1, min(STRIP_FRAMES, len(indices))).round().astype(int)])
    best: dict[int, list[TrackCard]] = {}
    for card in section.cards:
        best.setdefault(card.track["best_frame_index"], []).append(card)
    boxes = sampled.filter(pc.is_in(sampled[FRAME_INDEX], pa.array(sorted(strip), pa.int64())))
    for frame in video_frames(path, strip | set(best)):
        for card in best.get(frame.index, []):
            t = card.track
            name = folder / f"track_{t[TRACK_ID]:04d}.jpg"
            box = (t["best_box_x"], t["best_box_y"], t["best_box_w"], t["best_box_h"])
            write_jpeg(name, crop_face(frame.image, box))
            card.thumbnail = _relative(name, out)
        if frame.index in strip:
            name = folder / f"frame_{frame.index:07d}.jpg"
            write_jpeg(name, _strip_frame(frame.image, boxes.filter(pc.equal(boxes[FRAME_INDEX], frame.index))))
            section.strip.append((_relative(name, out), frame.index, frame.timestamp_s))


def _strip_frame(image: np.ndarray, rows: pa.Table) -> np.ndarray:
    """The frame scaled to :data:`STRIP_WIDTH`, its faces' boxes drawn with ``#track emotion``."""
    small, scale = fit_width(image, STRIP_WIDTH)
    small = small.copy()
    faces = rows.filter(pc.equal(rows[STATUS], Status.ok.value)).to_pylist()
    boxes = [tuple(r[f"box_{a}"] * scale for a in "xywh") for r in faces]
    draw_boxes(small, boxes, [f"#{r[TRACK_ID]} {r[EMOTION]}" for r in faces])
    return small


def _relative(path: Path, out: Path) -> str:
    return path.relative_to(out).as_posix()
