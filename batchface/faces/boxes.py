"""What a face detector returns: boxes, scores and alignment points of the faces in one image, and
the box arithmetic detectors share (non-maximum suppression, overlap)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: a face's box: x, y, w, h, pixels, origin top-left (a tuple, a list or a row of an array)
Box = Sequence[float] | np.ndarray


@dataclass
class Detections:
    """Faces found in one image, ordered left to right by box centre.

    ``boxes``: [N, 4] float (x, y, w, h) in pixels, origin top-left; ``scores``: [N] in [0, 1];
    ``points``: [N, 3, 2] the alignment points (image-left eye, image-right eye, mouth centre), x before y.
    """

    boxes: np.ndarray
    scores: np.ndarray
    points: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def empty(cls) -> Detections:
        """No faces.

        Returns:
            Detections of length 0.
        """
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 3, 2)))

    @classmethod
    def joined(cls, parts: list[Detections]) -> Detections:
        """The faces of several lists of faces of one image, in that order.

        Args:
            parts: lists of faces of one image.

        Returns:
            All their faces.
        """
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("boxes", "scores", "points")))

    def select(self, keep: np.ndarray | Sequence[int]) -> Detections:
        """Some of the faces.

        Args:
            keep: a boolean mask, or indices.

        Returns:
            The faces picked, in the order ``keep`` gives.
        """
        return Detections(self.boxes[keep], self.scores[keep], self.points[keep])

    def scaled(self, sx: float, sy: float) -> Detections:
        """The same faces in other pixels: those of the full image, for faces found in a reduced copy.

        Args:
            sx: new pixels per old pixel along x (the full image's width over the copy's).
            sy: the same along y.

        Returns:
            The faces in those pixels.
        """
        return Detections(self.boxes * [sx, sy, sx, sy], self.scores, self.points * [sx, sy])

    def moved(self, dx: float, dy: float) -> Detections:
        """The same faces in a larger image (this one a part of it).

        Args:
            dx: how many pixels left of this image's origin the larger image's lies.
            dy: how many pixels above.

        Returns:
            The faces in the larger image's pixels.
        """
        return Detections(self.boxes + [dx, dy, 0, 0], self.scores, self.points + [dx, dy])

    def at_least(self, min_face: int | None) -> Detections:
        """The faces wide enough.

        Args:
            min_face: the narrowest box kept, pixels (None: all are).

        Returns:
            The faces whose box is at least that wide.
        """
        return self.select(self.boxes[:, 2] >= min_face) if min_face else self

    def sorted(self) -> Detections:
        """The faces left to right.

        Returns:
            The faces in the order of their boxes' centres, x (equal ones as they were).
        """
        return self.select(np.argsort(self.boxes[:, 0] + self.boxes[:, 2] / 2, kind="stable"))


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Non-maximum suppression: the boxes that no better box overlaps too much.

    Args:
        boxes: [N, 4] float (x, y, w, h), pixels.
        scores: [N] their scores.
        iou_threshold: the most a kept box may overlap a better one (intersection over union).

    Returns:
        The indices kept, [M] int64, best first.
    """
    if len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), 0.0, iou_threshold)
    return np.array(keep, dtype=np.int64).reshape(-1)


def square_around(box: Box, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The square twice the size of a box about its centre, cut to the image.

    Args:
        box: x, y, w, h, pixels.
        width: the image's width, pixels.
        height: the image's height, pixels.

    Returns:
        The square as (x0, y0, x1, y1) pixels, or None where too little of it is left.
    """
    x, y, w, h = box
    half = max(w, h)
    x0, y0 = max(0, int(x + w / 2 - half)), max(0, int(y + h / 2 - half))
    x1, y1 = min(width, int(np.ceil(x + w / 2 + half))), min(height, int(np.ceil(y + h / 2 + half)))
    return (x0, y0, x1, y1) if x1 - x0 >= 2 and y1 - y0 >= 2 else None


def iou(a: Box, b: Box) -> float:
    """How much two boxes overlap.

    Args:
        a: x, y, w, h, pixels.
        b: x, y, w, h, pixels.

    Returns:
        Their intersection over their union, in [0, 1].
    """
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
