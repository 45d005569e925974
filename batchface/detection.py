"""Face detection: what a detector returns, and the detectors by name.

Two detectors ship inside the package: YuNet (:mod:`batchface.yunet`, the default) and BlazeFace
(:mod:`batchface.blazeface`). The default is YuNet, with BlazeFace confirming the large frontal
faces that YuNet is unsure of.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DETECTORS = ("yunet", "blazeface")


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
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 3, 2)))

    def select(self, keep) -> "Detections":
        """The faces picked by ``keep`` (a boolean mask or indices)."""
        return Detections(self.boxes[keep], self.scores[keep], self.points[keep])

    def scaled(self, sx: float, sy: float) -> "Detections":
        """The same faces in pixels ``sx`` times wider and ``sy`` times taller (an image's full size)."""
        return Detections(self.boxes * [sx, sy, sx, sy], self.scores, self.points * [sx, sy])

    def at_least(self, min_face: int | None) -> "Detections":
        """The faces whose box is at least ``min_face`` pixels wide (all when None)."""
        return self.select(self.boxes[:, 2] >= min_face) if min_face else self

    def sorted(self) -> "Detections":
        return self.select(np.argsort(self.boxes[:, 0] + self.boxes[:, 2] / 2, kind="stable"))


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by non-maximum suppression of (x, y, w, h) boxes, best first."""
    if len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), 0.0, iou_threshold)
    return np.array(keep, dtype=np.int64).reshape(-1)


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def create_detector(name: str = "yunet", model_path=None, threads: int = 1, min_face: int | None = None):
    """A detector by name: ``yunet`` (checked by BlazeFace where it is unsure) or ``blazeface``.

    ``model_path``: the detector's file, made by ``export/yunet.py`` or ``export/blazeface.py``
    (default: the shipped one); ``min_face``: the width (pixels) of the smallest face to look for
    (None: the default of each detector).
    """
    from batchface.blazeface import BLAZEFACE_FILE, BlazeFace
    from batchface.yunet import YUNET_FILE, YuNet

    if min_face is not None and min_face < 1:
        raise ValueError(f"min_face must be at least 1 pixel, not {min_face}")
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}: choose one of {', '.join(DETECTORS)}")
    if model_path and not Path(model_path).is_file():
        raise FileNotFoundError(f"detector model {model_path}: no such file")
    try:
        if name == "blazeface":
            return BlazeFace(model_path or BLAZEFACE_FILE, min_face=min_face, threads=threads)
        return YuNet(model_path or YUNET_FILE, threads=threads, min_face=min_face,
                     checker=BlazeFace(threads=threads))
    except Exception as e:  # onnxruntime raises its own types for a file that is no model
        raise ValueError(f"cannot load detector model {model_path or ''}: {str(e).strip().splitlines()[-1]}") from None
