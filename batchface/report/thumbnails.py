"""Faces and frames cut from the sources for the page: images decoded as ``batchface run`` decodes
them, video frames read with :class:`batchface.media.decoding.VideoReader`. Pixels, origin top-left,
boxes (x, y, w, h)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from batchface.media.video import Frame, VideoReader

#: a face thumbnail's side in pixels, and the margin around the box, as a share of its longer side
THUMB_SIDE, MARGIN = 112, 0.25
BACKGROUND = (40, 40, 40)


def locate(source: str, folders) -> Path | None:
    """The file a table's ``source`` names: as it is (absolute, or relative to the current folder),
    else relative to one of ``folders`` (those of the tables, which a run may have been started
    beside); None when none exists."""
    for candidate in [Path(source), *(Path(f) / source for f in folders)]:
        if candidate.is_file():
            return candidate
    return None


def crop_face(image: np.ndarray, box, side: int = THUMB_SIDE) -> np.ndarray:
    """A ``side`` x ``side`` thumbnail of the face in ``box``: the square around the box's centre as
    long as its longer side plus :data:`MARGIN` each way, filled with :data:`BACKGROUND` beyond the image."""
    x, y, w, h = box
    half = max(w, h) * (0.5 + MARGIN)
    cx, cy = x + w / 2, y + h / 2
    x0, y0, x1, y1 = (int(round(v)) for v in (cx - half, cy - half, cx + half, cy + half))
    height, width = image.shape[:2]
    pads = (max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width))
    crop = image[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)]
    if crop.size == 0:
        return np.full((side, side, 3), BACKGROUND, dtype=np.uint8)
    crop = cv2.copyMakeBorder(crop, *pads, cv2.BORDER_CONSTANT, value=BACKGROUND)
    return cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)


def video_frames(path, indices) -> Iterator[Frame]:
    """The frames of the video at ``path`` whose 0-based indices are in ``indices``, in order, read
    in one pass from the start to the last of them; raises InputError if it cannot be read."""
    wanted = set(indices)
    if not wanted:
        return
    for frame in VideoReader(path, max_frames=max(wanted) + 1):
        if frame.index in wanted:
            yield frame


def fit_width(image: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    """``image`` scaled down to ``width`` pixels wide (never up), and the scale applied."""
    scale = min(1.0, width / image.shape[1])
    if scale == 1.0:
        return image, scale
    size = (width, max(1, int(round(image.shape[0] * scale))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def write_jpeg(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        raise OSError(f"cannot encode {path}")
    data.tofile(str(path))
