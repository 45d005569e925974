"""Faces of one image: detection, the canonical crop, keypoints and expression.

    >>> from batchface import Analyzer
    >>> faces = Analyzer().analyze(cv2.imread("group.jpg"))

No files, no processes: the runner (:mod:`batchface.engine.runner`) builds on this.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from batchface.faces.boxes import Detections
from batchface.faces.detection import create_detector
from batchface.faces.measure import Face, FaceModels
from batchface.faces.models import EXPRESSION_FILE, EXPRESSION_FILES, KEYPOINTS_FILE
from batchface.media.decoding import Picture

if TYPE_CHECKING:
    from batchface.options import Options

__all__ = ["Analyzer", "Face", "check_image"]  # Face: where the package's users have found it


class Analyzer(FaceModels):
    """Detector plus the two face models, loaded once.

    Args:
        detector: the detector's name in :data:`batchface.faces.detection.DETECTORS`.
        detector_model: the detector's ONNX file (None: the packaged one).
        keypoint_model: the keypoint model's ONNX file.
        expression_model: the expression model's ONNX file.
        threads: the most onnxruntime threads of each model (OpenCV's resizing and cropping follow
            ``cv2.setNumThreads``).
        min_face: the smallest face to look for, pixels (see
            :func:`batchface.faces.detection.create_detector`; None: the detector's own).
    """

    def __init__(
        self,
        detector: str = "yunet",
        detector_model: str | os.PathLike | None = None,
        keypoint_model: str | os.PathLike = KEYPOINTS_FILE,
        expression_model: str | os.PathLike = EXPRESSION_FILE,
        threads: int = 1,
        min_face: int | None = None,
    ) -> None:
        self.detector = create_detector(detector, detector_model, threads=threads, min_face=min_face)
        super().__init__(keypoint_model, expression_model, threads)

    @classmethod
    def for_options(cls, options: Options, threads: int = 1) -> Analyzer:
        """The analyzer of a run's options.

        Args:
            options: the run's options (detector, its model, expression model, smallest face).
            threads: the most onnxruntime threads of each model.

        Returns:
            The analyzer, its models loaded.
        """
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
        """The faces of one image.

        Args:
            image_bgr: 8-bit BGR, [H, W, 3] (as ``cv2.imread`` gives).

        Returns:
            Its faces, left to right, in its pixels.

        Raises:
            TypeError: ``image_bgr`` is not an 8-bit image of shape [H, W, 3].
        """
        return self.analyze_batch([image_bgr])[0]

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """The faces the detector finds in an image.

        Args:
            image_bgr: 8-bit BGR, [H, W, 3].

        Returns:
            Their boxes, scores and alignment points, in the image's pixels.

        Raises:
            TypeError: ``image_bgr`` is not an 8-bit image of shape [H, W, 3] (``cv2.imread`` gives
                None for a file it cannot read).
        """
        check_image(image_bgr)
        return self.detector.detect(image_bgr)

    def analyze_batch(self, images: list[np.ndarray]) -> list[list[Face]]:
        """The faces of several images; the faces of all go through each model in one call.

        Args:
            images: 8-bit BGR images, [H, W, 3] each.

        Returns:
            Each image's faces, left to right.

        Raises:
            TypeError: one of ``images`` is not an 8-bit image of shape [H, W, 3].
        """
        detections = [self.detect(image) for image in images]
        return self.run_models(images, detections)

    def analyze_pictures(self, pictures: list[Picture]) -> list[list[Face]]:
        """The faces of decoded files (:func:`batchface.media.decoding.read_picture`).

        A picture decoded reduced is searched as it is; its crops are cut from it too when every face
        is large enough there for the models' crops (not enlarged), else from the full-size image.

        Args:
            pictures: the decoded files.

        Returns:
            Each picture's faces, left to right, in its full size's pixels.
        """
        detections, sources = [], []
        for picture in pictures:
            found = self.detect(picture.image).scaled(*picture.scale)
            if picture.reduced and not self.large_enough(found, min(picture.scale)):
                picture = picture.full()
            detections.append(found)
            sources.append(picture)
        return self.run_models([p.image for p in sources], detections, [p.scale for p in sources])


def check_image(image: object) -> None:
    """Check that an image is what the detector reads.

    Args:
        image: what should be an 8-bit BGR image, a numpy array [H, W, 3] of uint8.

    Raises:
        TypeError: it is not.
    """
    if image is None:
        raise TypeError("image is None: cv2.imread gives None for a file it cannot read (batchface.read_image raises)")
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        what = f"array {image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise TypeError(f"expected an 8-bit BGR image, a numpy array [H, W, 3] of uint8; got {what}")
