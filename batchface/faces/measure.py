"""Faces already found, measured: their crops through the keypoint and expression models, and the
models' answers made into :class:`Face` (pixels of the image, origin top-left, x before y).

Finding the faces first is :mod:`batchface.faces.analysis`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from batchface.faces import crop, pose
from batchface.faces.boxes import Detections
from batchface.faces.landmarks import KAGGLE_NAMES, kaggle_keypoints
from batchface.faces.models import EXPRESSION_FILE, KEYPOINTS_FILE, ExpressionModel, KeypointModel

#: for each image, the pixels of the full image per pixel of the image given (x, y); None: all 1
Scales = list[tuple[float, float]] | None
#: keypoint crops [N, S, S] uint8, their image-to-crop matrices [N, 2, 3], expression crops [N, s, s] uint8
Crops = tuple[np.ndarray, np.ndarray, np.ndarray]


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


class FaceModels:
    """The keypoint and expression models, loaded once, on faces already found.

    Args:
        keypoint_model: the keypoint model's ONNX file.
        expression_model: the expression model's ONNX file.
        threads: the most onnxruntime threads of each model.
    """

    def __init__(
        self,
        keypoint_model: str | os.PathLike = KEYPOINTS_FILE,
        expression_model: str | os.PathLike = EXPRESSION_FILE,
        threads: int = 1,
    ) -> None:
        self.keypoints = KeypointModel(keypoint_model, threads=threads)
        self.expression = ExpressionModel(expression_model, threads=threads)

    def large_enough(self, detections: Detections, scale: float) -> bool:
        """Whether every face would be at least as large in a reduced image as in both models' crops.

        Args:
            detections: faces in the full image's pixels.
            scale: how many times smaller the reduced image is.

        Returns:
            True when every face's eye distance there is at least that of both models' crops.
        """
        eyes = np.linalg.norm(detections.points[:, 1] - detections.points[:, 0], axis=1) / scale
        return bool((eyes >= max(m.eye_distance for m in (self.keypoints, self.expression))).all())

    def cut(self, images: list[np.ndarray], detections: list[Detections], scales: Scales = None) -> Crops:
        """The crops of every detected face, for these models (:func:`cut_crops`).

        Args:
            images: 8-bit BGR images, [H, W, 3] each.
            detections: each image's faces.
            scales: as for :func:`cut_crops`.

        Returns:
            The keypoint crops, their image-to-crop matrices and the expression crops (:data:`Crops`).
        """
        return cut_crops(images, detections, self.keypoints, self.expression, scales)

    def run_models(
        self, images: list[np.ndarray], detections: list[Detections], scales: Scales = None
    ) -> list[list[Face]]:
        """Both face models on the detected faces of several images (one batched call per model).

        Args:
            images: 8-bit BGR images, [H, W, 3] each.
            detections: each image's faces, in the pixels of the full image.
            scales: as for :func:`cut_crops`.

        Returns:
            Each image's faces, in the order of its detections.
        """
        kp_crops, kp_maps, ex_crops = self.cut(images, detections, scales)
        sizes = [
            (image.shape[1] * sx, image.shape[0] * sy)
            for image, (sx, sy) in zip(images, scales or [(1, 1)] * len(images))
        ]
        return self.assemble(
            detections, self.keypoints.predict(kp_crops), kp_maps, self.expression.predict(ex_crops), sizes
        )

    def assemble(
        self,
        detections: list[Detections],
        points: np.ndarray,
        kp_maps: np.ndarray,
        probs: np.ndarray,
        sizes: list[tuple[float, float]],
    ) -> list[list[Face]]:
        """The faces from these models' answers (:func:`assemble`).

        Args:
            detections: each image's faces.
            points: the keypoint model's answer, [N, K, 2] crop pixels (x, y).
            kp_maps: the keypoint crops' 2x3 image-to-crop matrices, [N, 2, 3].
            probs: the expression model's answer, [N, C] class probabilities.
            sizes: each image's (width, height) in pixels.

        Returns:
            Each image's faces, in the order of its detections.
        """
        return assemble(detections, points, kp_maps, probs, sizes, self.keypoints.names, self.expression.classes)


def cut_crops(
    images: list[np.ndarray],
    detections: list[Detections],
    keypoints: KeypointModel,
    expression: ExpressionModel,
    scales: Scales = None,
) -> Crops:
    """The crops of every detected face, in order, for both models.

    Args:
        images: 8-bit BGR images, [H, W, 3] each.
        detections: each image's faces.
        keypoints: the keypoint model (its crop's size and template).
        expression: the expression model (its crop's size and template).
        scales: for each image, the pixels of the image the detections' points are in per pixel of
            the image (x, y), when it was decoded reduced (None: 1, the same image).

    Returns:
        The keypoint crops [N, S, S] uint8 grayscale, their 2x3 image-to-crop matrices [N, 2, 3], and
        the expression crops [N, s, s] uint8 grayscale.
    """
    kp, ex = keypoints, expression
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


def assemble(
    detections: list[Detections],
    points: np.ndarray,
    kp_maps: np.ndarray,
    probs: np.ndarray,
    sizes: list[tuple[float, float]],
    names: tuple[str, ...],
    classes: tuple[str, ...],
) -> list[list[Face]]:
    """The :class:`Face` of each detection from the models' answers, crop pixels mapped to the image's.

    Args:
        detections: each image's faces.
        points: the keypoint model's answer, [N, K, 2] crop pixels (x, y), N the faces of all images.
        kp_maps: the keypoint crops' 2x3 image-to-crop matrices, [N, 2, 3].
        probs: the expression model's answer, [N, C] class probabilities.
        sizes: each image's (width, height) in pixels, for the head pose's camera.
        names: the keypoints' names, K of them.
        classes: the expressions' names, C of them.

    Returns:
        Each image's faces, in the order of its detections.
    """
    # all faces at once, then Python floats by tolist: numpy per face was the slow part (reports/speed-levers.md)
    image_points = crop.to_image_all(np.reshape(points, (len(kp_maps), len(names), 2)), kp_maps)
    poses: list[tuple[float, float, float] | None] = [None] * len(image_points)
    pose_errors: list[float | None] = [None] * len(image_points)
    if pose.has_pose(names):
        first = np.cumsum([0] + [len(d) for d in detections])
        fits = [pose.head_pose(image_points[a:b], *size) for a, b, size in zip(first[:-1], first[1:], sizes)]
        poses = [
            (a, b, c) if np.isfinite((a, b, c)).all() else None for angles, _ in fits for a, b, c in angles.tolist()
        ]
        pose_errors = [e if np.isfinite(e) else None for _, errors in fits for e in errors.tolist()]
    kaggle_points = kaggle_keypoints(image_points, names)
    kaggle = [] if kaggle_points is None else kaggle_points.tolist()
    as_lists, answers = image_points.tolist(), np.asarray(probs)
    best, probabilities = answers.argmax(1).tolist(), answers.tolist()
    out, k = [], 0
    for det in detections:
        faces = []
        for box, score in zip(det.boxes.tolist(), det.scores.tolist()):
            faces.append(
                Face(
                    box=tuple(box),
                    score=score,
                    landmarks=dict(zip(names, map(tuple, as_lists[k]))),
                    keypoints=dict(zip(KAGGLE_NAMES, map(tuple, kaggle[k]))) if kaggle else {},
                    emotion=classes[best[k]],
                    emotion_score=probabilities[k][best[k]],
                    probabilities=dict(zip(classes, probabilities[k])),
                    pose=poses[k],
                    pose_error=pose_errors[k],
                )
            )
            k += 1
        out.append(faces)
    return out
