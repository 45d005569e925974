"""Faces of one image: detection, the canonical crop, keypoints and expression.

    >>> from batchface import Analyzer
    >>> faces = Analyzer().analyze(cv2.imread("group.jpg"))

No files, no processes: the runner (:mod:`batchface.runner`) builds on this.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from batchface import crop
from batchface.detection import Detections, create_detector
from batchface.landmarks import KAGGLE_NAMES, kaggle_keypoints
from batchface.models import EXPRESSION_FILE, KEYPOINTS_FILE, ExpressionModel, KeypointModel


@dataclass
class Face:
    """One face. Pixels of the original image, origin top-left, x before y.

    ``box``: (x, y, w, h); ``score``: detector confidence in [0, 1]; ``landmarks``: every point of the
    keypoint model by name; ``keypoints``: the 15 Kaggle keypoints by name (empty when the keypoint
    model's points cannot give them); ``emotion``: the most probable class; ``probabilities``: per class.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: dict[str, tuple[float, float]] = field(default_factory=dict)
    keypoints: dict[str, tuple[float, float]] = field(default_factory=dict)
    emotion: str = ""
    emotion_score: float = 0.0
    probabilities: dict[str, float] = field(default_factory=dict)


class Analyzer:
    """Detector plus the two face models, loaded once; ``threads`` caps the onnxruntime threads of
    each model (YuNet runs in OpenCV, whose threads ``cv2.setNumThreads`` sets); ``min_face``
    (pixels) skips smaller faces for speed (see :func:`batchface.detection.create_detector`)."""

    def __init__(self, detector: str = "auto", detector_model=None, keypoint_model=KEYPOINTS_FILE,
                 expression_model=EXPRESSION_FILE, threads: int = 1, min_face: int | None = None):
        self.detector = create_detector(detector, detector_model, threads=threads, min_face=min_face)
        self.keypoints = KeypointModel(keypoint_model, threads=threads)
        self.expression = ExpressionModel(expression_model, threads=threads)

    @property
    def detector_name(self) -> str:
        return type(self.detector).__name__.lower()

    def analyze(self, image_bgr: np.ndarray) -> list[Face]:
        """The faces of one 8-bit BGR image (as ``cv2.imread`` gives), left to right."""
        return self.analyze_batch([image_bgr])[0]

    def detect(self, image_bgr: np.ndarray) -> Detections:
        return self.detector.detect(image_bgr)

    def analyze_batch(self, images: list[np.ndarray]) -> list[list[Face]]:
        """Faces of several images; the faces of all images go through each model in one call."""
        detections = [self.detect(image) for image in images]
        return self.describe(images, detections)

    def describe(self, images: list[np.ndarray], detections: list[Detections]) -> list[list[Face]]:
        """Run both models on the detected faces of ``images`` (one batched call per model)."""
        kp_crops, kp_maps, ex_crops = [], [], []
        for image, det in zip(images, detections):
            gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            for points in det.points:
                m = crop.alignment_matrix(points, self.keypoints.input_size, self.keypoints.template)
                kp_crops.append(crop.cut(gray, m, self.keypoints.input_size))
                kp_maps.append(m)
                m = crop.alignment_matrix(points, self.expression.input_size, self.expression.template)
                ex_crops.append(crop.cut(gray, m, self.expression.input_size))
        n = len(kp_crops)
        kp_size, ex_size = self.keypoints.input_size, self.expression.input_size
        points = self.keypoints.predict(np.stack(kp_crops) if n else np.zeros((0, kp_size, kp_size), np.uint8))
        probs = self.expression.predict(np.stack(ex_crops) if n else np.zeros((0, ex_size, ex_size), np.uint8))
        names, classes = self.keypoints.names, self.expression.classes
        out, k = [], 0
        for det in detections:
            faces = []
            for box, score in zip(det.boxes, det.scores):
                image_points = crop.to_image(points[k], kp_maps[k])
                kaggle = kaggle_keypoints(image_points, names)
                best = int(np.argmax(probs[k]))
                faces.append(Face(
                    box=tuple(float(v) for v in box), score=float(score),
                    landmarks={n_: (float(x), float(y)) for n_, (x, y) in zip(names, image_points)},
                    keypoints={} if kaggle is None else {
                        n_: (float(x), float(y)) for n_, (x, y) in zip(KAGGLE_NAMES, kaggle)},
                    emotion=classes[best], emotion_score=float(probs[k][best]),
                    probabilities={c: float(p) for c, p in zip(classes, probs[k])}))
                k += 1
            out.append(faces)
        return out

