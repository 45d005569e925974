"""When a face continues a track: the rules that link the faces of one sampled frame to the next.

A face's track is the face of the previous sampled frames whose box overlaps its own most, by at least
:data:`MIN_IOU` (intersection over union), matched greedily, best overlap first (:func:`match`). A
track that finds no face for more than :data:`GAP_S` seconds of video ends; so do all tracks at a
scene cut (a frame whose colours differ from the previous sampled frame's by more than :data:`CUT`:
:func:`is_cut`). A face that no live track takes starts a new track. Boxes are x, y, w, h pixels.

Following the faces of a video with these rules is :mod:`batchface.faces.tracking`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from batchface.faces.boxes import Box, iou

#: a track that finds no face for longer than this many seconds of video ends
GAP_S = 1.0
#: the least overlap (intersection over union) of a face's box with its track's last box
MIN_IOU = 0.3
#: a scene cut: the Bhattacharyya distance between the hue-saturation histograms of two consecutive
#: sampled frames above this. On the sample clips, cuts measure 0.41 to 0.57 and consecutive frames of
#: one shot at most 0.16 (0.30 a second apart); two different clips 0.82 or more (reports/video.md)
CUT = 0.35


def colours(image_bgr: np.ndarray) -> np.ndarray:
    """What a scene cut is judged on: the colours of an image.

    Args:
        image_bgr: an 8-bit BGR image, [H, W, 3].

    Returns:
        The normalised 16 x 8 hue-saturation histogram of a 64 x 36 thumbnail, [128] float32.
    """
    small = cv2.resize(image_bgr, (64, 36), interpolation=cv2.INTER_AREA)
    hist = cv2.calcHist([cv2.cvtColor(small, cv2.COLOR_BGR2HSV)], [0, 1], None, [16, 8], [0, 180, 0, 256])
    return cv2.normalize(hist, None).flatten()


def is_cut(before: np.ndarray | Sequence[float] | None, after: np.ndarray) -> bool:
    """Whether two consecutive sampled frames are on either side of a scene cut.

    Args:
        before: the earlier frame's :func:`colours` (None: there is none).
        after: the later frame's :func:`colours`.

    Returns:
        True when their colours differ by more than :data:`CUT`.
    """
    if before is None:
        return False
    distance = cv2.compareHist(np.asarray(before, np.float32), np.asarray(after, np.float32), cv2.HISTCMP_BHATTACHARYYA)
    return distance > CUT


@dataclass
class Sighting:
    """A track seen: its id, the time (seconds of video) and box (x, y, w, h, pixels) where it was."""

    id: int
    time: float
    box: tuple[float, ...]


def match(tracks: list[Sighting], boxes: Sequence[Box] | np.ndarray, time: float) -> list[int | None]:
    """Which track takes each box: greedy by overlap, each track at most one box, a track unseen for
    over :data:`GAP_S` seconds taking none.

    Args:
        tracks: the tracks' last sightings.
        boxes: the faces of a frame, (x, y, w, h) pixels.
        time: the frame's time, seconds of video.

    Returns:
        For each box, the index in ``tracks`` of the track that takes it, or None.
    """
    pairs = sorted(
        (
            (iou(track.box, box), t, b)
            for t, track in enumerate(tracks)
            if time - track.time <= GAP_S
            for b, box in enumerate(boxes)
        ),
        reverse=True,
    )
    taken: list[int | None] = [None] * len(boxes)
    used: set[int] = set()
    for overlap, t, b in pairs:
        if overlap < MIN_IOU:
            break
        if t not in used and taken[b] is None:
            taken[b], used = t, used | {t}
    return taken
