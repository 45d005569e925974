"""Faces and frames cut from the sources for the page: images decoded as ``batchface run`` decodes
them, video frames read with :class:`batchface.media.video.VideoReader`. Pixels, origin top-left,
boxes (x, y, w, h)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from batchface.media.video import Frame, VideoReader

#: a face thumbnail's side in pixels, and the margin around the box, as a share of its longer side
THUMB_SIDE, MARGIN = 112, 0.25
BACKGROUND = (40, 40, 40)


def locate(source: str, folders: Sequence[str | os.PathLike[str]]) -> Path | None:
    """The file a table's ``source`` names.

    Args:
        source: the path, absolute or relative.
        folders: where else a relative path may start (the tables' folders, which a run may have
            been started beside).

    Returns:
        The path as it is (absolute, or relative to the current folder), else below the first of
        ``folders`` where it exists; None when none exists.
    """
    for candidate in [Path(source), *(Path(f) / source for f in folders)]:
        if candidate.is_file():
            return candidate
    return None


def crop_face(image: np.ndarray, box: Sequence[float], side: int = THUMB_SIDE) -> np.ndarray:
    """A square thumbnail of a face: the square around the box's centre as long as its longer side
    plus :data:`MARGIN` each way, filled with :data:`BACKGROUND` beyond the image.

    Args:
        image: the image, 8-bit BGR.
        box: the face's (x, y, w, h), pixels, origin top-left.
        side: the thumbnail's side, pixels.

    Returns:
        The thumbnail, ``side`` x ``side``, 8-bit BGR.
    """
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


def video_frames(path: str | os.PathLike[str], indices: Iterable[int]) -> Iterator[Frame]:
    """Some frames of a video, read in one pass from the start to the last of them.

    Args:
        path: the video.
        indices: the frames' 0-based indices.

    Yields:
        Those frames, in order.

    Raises:
        InputError: the video cannot be read.
    """
    wanted = set(indices)
    if not wanted:
        return
    for frame in VideoReader(path, max_frames=max(wanted) + 1):
        if frame.index in wanted:
            yield frame


def fit_width(image: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    """An image scaled down to a width (never up).

    Args:
        image: the image.
        width: the width, pixels.

    Returns:
        The image scaled, and the scale applied.
    """
    scale = min(1.0, width / image.shape[1])
    if scale == 1.0:
        return image, scale
    size = (width, max(1, int(round(image.shape[0] * scale))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def write_jpeg(path: Path, image: np.ndarray) -> None:
    """Write an image as a JPEG file, its folder made if missing.

    Args:
        path: the file.
        image: the image, 8-bit BGR.

    Raises:
        OSError: the image cannot be encoded.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        raise OSError(f"cannot encode {path}")
    data.tofile(str(path))
