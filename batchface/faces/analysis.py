"""Faces of one image: detection, the canonical crop, keypoints and expression.

    >>> from batchface import Analyzer
    >>> faces = Analyzer().analyze(cv2.imread("group.jpg"))

No files, no processes: the runner (:mod:`batchface.engine.runner`) builds on this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from batchface.faces import crop, pose
from batchface.faces.boxes import Detections
from batchface.faces.detection import create_detector
from batchface.faces.landmarks import KAGGLE_NAMES, kaggle_keypoints
from batchface.faces.models import EXPRESSION_FILE, EXPRESSION_FILES, KEYPOINTS_FILE, ExpressionModel, KeypointModel
from batchface.media.decoding import Picture


@dataclass
class Face:
    """One face. Pixels of the original image, origin top-left, x before y.

    ``box``: (x, y, w, h); ``score``: detector confidence in [0, 1]; ``landmarks``: every point of the
    keypoint model by name; ``keypoints``: the 15 Kaggle keypoints by name (empty when the keypoint
    model's points cannot give them); ``emotion``: the most probable class; ``probabilities``: per class;
    ``pose``: (yaw, pitch, roll) of the head in degrees and ``pose_error`` the keypoints' misfit to a
    head, as a fraction of the eye distance (:mod:`batchface.faces.pose`; None when the keypoint model does
    not give the iBUG 68 points).
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: dict[str, tuple[float, float]] = field(default_factory=dict)
    keypoints: dict[str, tuple[float, float]] = field(default_factory=dict)
    emotion: str = ""
    emotion_score: float = 0.0
    probabilities: dict[str, float] = field(default_factory=dict)
    pose: tuple[float, float, float] | None = None
    pose_error: float | None = None


class Analyzer:
    """Detector plus the two face models, loaded once; ``threads`` caps the onnxruntime threads of
    each model (OpenCV's resizing and cropping follow ``cv2.setNumThreads``); ``min_face``
    (pixels): the smallest face to look for (see :func:`batchface.faces.detection.create_detector`)."""

    def __init__(
        self,
        detector: str = "yunet",
        detector_model=None,
        keypoint_model=KEYPOINTS_FILE,
        expression_model=EXPRESSION_FILE,
        threads: int = 1,
        min_face: int | None = None,
    ):
        self.detector = create_detector(detector, detector_model, threads=threads, min_face=min_face)
        self.keypoints = KeypointModel(keypoint_model, threads=threads)
        self.expression = ExpressionModel(expression_model, threads=threads)

    @classmethod
    def for_options(cls, options, threads: int = 1) -> Analyzer:
        """The analyzer of a run's options (:class:`batchface.options.Options`)."""
        return cls(
            options.detector,
            options.detector_model,
            expression_model=EXPRESSION_FILES[options.expression],
            threads=threads,
            min_face=options.min_face,
        )

    @property
    def detector_name(self) -> str:
        """The detector's name in :data:`batchface.faces.detection.DETECTORS`."""
        return self.detector.name

    def analyze(self, image_bgr: np.ndarray) -> list[Face]:
        """The faces of one 8-bit BGR image (as ``cv2.imread`` gives), left to right."""
        return self.analyze_batch([image_bgr])[0]

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """The faces the detector finds in an 8-bit BGR image (boxes and points in its pixels).

        Raises:
            TypeError: ``image_bgr`` is not an 8-bit image of shape [H, W, 3] (``cv2.imread`` gives
                None for a file it cannot read).
        """
        check_image(image_bgr)
        return self.detector.detect(image_bgr)

    def analyze_batch(self, images: list[np.ndarray]) -> list[list[Face]]:
        """Faces of several images; the faces of all images go through each model in one call."""
        detections = [self.detect(image) for image in images]
        return self.run_models(images, detections)

    def analyze_pictures(self, pictures: list[Picture]) -> list[list[Face]]:
        """Faces of decoded files (:func:`batchface.media.decoding.read_picture`), in their full size's pixels.

        A picture decoded reduced is searched as it is; its crops are cut from it too when every face
        is large enough there for the models' crops (not enlarged), else from the full-size image.
        """
        detections, sources = [], []
        for picture in pictures:
            found = self.detect(picture.image).scaled(*picture.scale)
            if picture.reduced and not self.large_enough(found, min(picture.scale)):
                picture = picture.full()
            detections.append(found)
            sources.append(picture)
        return self.run_models([p.image for p in sources], detections, [p.scale for p in sources])

    def large_enough(self, detections: Detections, scale: float) -> bool:
        """Whether every face is at least as large in an image ``scale`` times smaller as in the crops
        of both models (eye distances)."""
        eyes = np.linalg.norm(detections.points[:, 1] - detections.points[:, 0], axis=1) / scale
        return bool((eyes >= max(m.eye_distance for m in (self.keypoints, self.expression))).all())

    def cut(self, images: list[np.ndarray], detections: list[Detections], scales=None):
        """The crops of every detected face, in order: (keypoint crops [N, S, S] uint8 grayscale, their
        2x3 image-to-crop matrices [N, 2, 3], expression crops [N, s, s] uint8 grayscale).

        ``scales``: for each image, the pixels of the image the detections' points are in per pixel
        of ``image`` (x, y), when the image was decoded reduced (default: 1, the same image)."""
        kp, ex = self.keypoints, self.expression
        kp_crops, kp_maps, ex_crops = [], [], []
        for image, det, scale in zip(images, detections, scales or [(1.0, 1.0)] * len(images)):
            for points in det.points:
                # cut from the colour image and convert only the crops: cheaper than the whole image in gray
                m = crop.alignment_matrix(points, kp.input_size, kp.template)
                kp_crops.append(crop.gray(crop.cut(image, crop.for_reduced(m, *scale), kp.input_size)))
                kp_maps.append(m)
                m = crop.alignment_matrix(points, ex.input_size, ex.template)
                ex_crops.append(crop.gray(crop.cut(image, crop.for_reduced(m, *scale), ex.input_size)))
        stack = lambda crops, size: np.stack(crops) if crops else np.zeros((0, size, size), np.uint8)
        return stack(kp_crops, kp.input_size), np.array(kp_maps).reshape(-1, 2, 3), stack(ex_crops, ex.input_size)

    def run_models(self, images: list[np.ndarray], detections: list[Detections], scales=None) -> list[list[Face]]:
        """Both face models on the detected faces of ``images`` (one batched call per model);
        ``scales`` as for :meth:`cut`."""
        kp_crops, kp_maps, ex_crops = self.cut(images, detections, scales)
        sizes = [
            (image.shape[1] * sx, image.shape[0] * sy)
            for image, (sx, sy) in zip(images, scales or [(1, 1)] * len(images))
        ]
        return self.assemble(
            detections, self.keypoints.predict(kp_crops), kp_maps, self.expression.predict(ex_crops), sizes
        )

    def assemble(self, detections: list[Detections], points, kp_maps, probs, sizes) -> list[list[Face]]:
        """The :class:`Face` of each detection from the models' answers (crop pixels mapped to the
        image's); ``sizes``: each image's (width, height) in pixels, for the head pose's camera."""
        names, classes = self.keypoints.names, self.expression.classes
        # all faces at once, then Python floats by tolist: numpy per face was the slow part (reports/speed-levers.md)
        image_points = crop.to_image_all(np.reshape(points, (len(kp_maps), len(names), 2)), kp_maps)
        poses, pose_errors = [None] * len(image_points), [None] * len(image_points)
        if pose.has_pose(names):
            first = np.cumsum([0] + [len(d) for d in detections])
            fits = [pose.head_pose(image_points[a:b], *size) for a, b, size in zip(first[:-1], first[1:], sizes)]
            poses = [tuple(p) if np.isfinite(p).all() else None for angles, _ in fits for p in angles.tolist()]
            pose_errors = [e if np.isfinite(e) else None for _, errors in fits for e in errors.tolist()]
        kaggle = kaggle_keypoints(image_points, names)
        image_points, kaggle = image_points.tolist(), [] if kaggle is None else kaggle.tolist()
        probs = np.asarray(probs)
        best, probs = probs.argmax(1).tolist(), probs.tolist()
        out, k = [], 0
        for det in detections:
            faces = []
            for box, score in zip(det.boxes.tolist(), det.scores.tolist()):
                faces.append(
                    Face(
                        box=tuple(box),
                        score=score,
                        landmarks=dict(zip(names, map(tuple, image_points[k]))),
                        keypoints=dict(zip(KAGGLE_NAMES, map(tuple, kaggle[k]))) if kaggle else {},
                        emotion=classes[best[k]],
                        emotion_score=probs[k][best[k]],
                        probabilities=dict(zip(classes, probs[k])),
                        pose=poses[k],
                        pose_error=pose_errors[k],
                    )
                )
                k += 1
            out.append(faces)
        return out


def check_image(image) -> None:
    """Raise TypeError unless ``image`` is an 8-bit BGR image, a numpy array [H, W, 3] of uint8."""
    if image is None:
        raise TypeError("image is None: cv2.imread gives None for a file it cannot read (batchface.read_image raises)")
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        what = f"array {image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise TypeError(f"expected an 8-bit BGR image, a numpy array [H, W, 3] of uint8; got {what}")
