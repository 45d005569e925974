"""Faces of one image: detection, the canonical crop, keypoints and expression.

    >>> from batchface import Analyzer
    >>> faces = Analyzer().analyze(cv2.imread("group.jpg"))

No files, no processes: the runner (:mod:`batchface.runner`) builds on this.
"""
from __future__ import annotations

from dataclasses import dataclass, field

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
    each model (OpenCV's resizing and cropping follow ``cv2.setNumThreads``); ``min_face``
    (pixels): the smallest face to look for (see :func:`batchface.detection.create_detector`)."""

    def __init__(self, detector: str = "yunet", detector_model=None, keypoint_model=KEYPOINTS_FILE,
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
        return self.run_models(images, detections)

    def cut(self, images: list[np.ndarray], detections: list[Detections]):
        """The crops of every detected face, in order: (keypoint crops [N, S, S] uint8 grayscale, their
        2x3 image-to-crop matrices [N, 2, 3], expression crops [N, s, s] uint8 grayscale)."""
        kp, ex = self.keypoints, self.expression
        kp_crops, kp_maps, ex_crops = [], [], []
        for image, det in zip(images, detections):
            for points in det.points:
                # cut from the colour image and convert only the crops: cheaper than the whole image in gray
                m = crop.alignment_matrix(points, kp.input_size, kp.template)
                kp_crops.append(crop.gray(crop.cut(image, m, kp.input_size)))
                kp_maps.append(m)
                m = crop.alignment_matrix(points, ex.input_size, ex.template)
                ex_crops.append(crop.gray(crop.cut(image, m, ex.input_size)))
        stack = lambda crops, size: np.stack(crops) if crops else np.zeros((0, size, size), np.uint8)
        return stack(kp_crops, kp.input_size), np.array(kp_maps).reshape(-1, 2, 3), stack(ex_crops, ex.input_size)

    def run_models(self, images: list[np.ndarray], detections: list[Detections]) -> list[list[Face]]:
        """Both face models on the detected faces of ``images`` (one batched call per model)."""
        kp_crops, kp_maps, ex_crops = self.cut(images, detections)
        return self.assemble(detections, self.keypoints.predict(kp_crops), kp_maps, self.expression.predict(ex_crops))

    def assemble(self, detections: list[Detections], points, kp_maps, probs) -> list[list[Face]]:
        """The :class:`Face` of each detection from the models' answers (crop pixels mapped to the image's)."""
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
