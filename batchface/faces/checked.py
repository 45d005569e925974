"""The default detector: YuNet, with BlazeFace confirming the large frontal faces YuNet is unsure of.

Those are where YuNet's few false positives lie that BlazeFace rejects (a dog's face, scored 0.77),
while YuNet's unsure small, dim, turned or cut-off faces are left as they are: BlazeFace misses most
of those (``reports/detectors.md``).
"""

from __future__ import annotations

import cv2
import numpy as np

from batchface.faces.blazeface import BlazeFace
from batchface.faces.boxes import Box, Detections, iou
from batchface.faces.yunet import YuNet, cut_off


class CheckedYuNet:
    """:class:`YuNet` whose unsure large frontal faces (:meth:`needs_check`) are kept only where
    :class:`BlazeFace` finds them too (:meth:`agrees`); a :class:`batchface.faces.detection.FaceDetector`.

    Args:
        yunet: the detector.
        checker: what confirms the faces it is unsure of.
    """

    name = "yunet"
    SURE = 0.9  # a score from which YuNet is trusted alone
    CHECK_WIDTH = 64  # pixels: from this width on, BlazeFace found every frontal face of the keypoint set's
    FRONTAL = 3.5  # training frames that YuNet found, 586 of 586; frontal: box width < 3.5 x eye distance
    AGREE_SCORE = 0.5  # BlazeFace's score at which a face on the patch around a box confirms it
    AGREE_ZOOM = 4  # the patch's side in box sides: the full-range model is made for faces far smaller
    # than its input (a face at half the patch was confirmed less often: reports/detectors.md)

    def __init__(self, yunet: YuNet, checker: BlazeFace) -> None:
        self.yunet, self.checker = yunet, checker
        self.path, self.min_face = yunet.path, yunet.min_face

    def side_needed(self, width: int, height: int) -> int:
        """As :meth:`batchface.faces.detection.FaceDetector.side_needed`:
        as large as YuNet sees it, more resolution is not used."""
        return self.yunet.side_needed(width, height)

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """The faces of an image.

        Args:
            image_bgr: 8-bit BGR, [H, W, 3].

        Returns:
            Its faces, in its pixels, left to right.
        """
        return self._confirmed(image_bgr, self.yunet.detect(image_bgr))

    def detect_near(self, image_bgr: np.ndarray, box: Box) -> Detections:
        """The faces around where a face was, as :meth:`YuNet.detect_near` finds them.

        Args:
            image_bgr: the frame, 8-bit BGR.
            box: where the face was in the previous sampled frame, x, y, w, h pixels.

        Returns:
            The faces found there, in the frame's pixels.
        """
        return self._confirmed(image_bgr, self.yunet.detect_near(image_bgr, box))

    def _confirmed(self, image_bgr: np.ndarray, found: Detections) -> Detections:
        unsure = self.needs_check(found, image_bgr.shape[1], image_bgr.shape[0])
        return found.select(
            np.array([not unsure[i] or self.agrees(image_bgr, found.boxes[i]) for i in range(len(found))], bool)
        )

    def needs_check(self, found: Detections, width: int, height: int) -> np.ndarray:
        """Which faces YuNet is unsure of where BlazeFace is competent: below :attr:`SURE`, at least
        :attr:`CHECK_WIDTH` pixels wide, frontal, and away from the border.

        Args:
            found: YuNet's faces.
            width: the image's width, pixels.
            height: the image's height, pixels.

        Returns:
            [N] bool, one for each face of ``found``.
        """
        if len(found) == 0:
            return np.zeros(0, bool)
        w = found.boxes[:, 2]
        eyes = np.linalg.norm(found.points[:, 1] - found.points[:, 0], axis=1)
        return (
            (found.scores < self.SURE)
            & (w >= self.CHECK_WIDTH)
            & (w < self.FRONTAL * eyes)
            & ~cut_off(found, width, height, self.yunet.EDGE)
        )

    def agrees(self, image_bgr: np.ndarray, box: Box) -> bool:
        """Whether BlazeFace finds a face on a square patch of :attr:`AGREE_ZOOM` times the box's
        longer side around it, scaled to the network's input; outside the image the patch is black.

        Args:
            image_bgr: the image, 8-bit BGR.
            box: the face YuNet found, x, y, w, h pixels.

        Returns:
            True when a face BlazeFace finds there overlaps the box enough (IoU over 0.3).
        """
        x, y, w, h = box
        size = self.checker.size
        scale = size / (self.AGREE_ZOOM * max(w, h))
        matrix = np.array([[scale, 0, size / 2 - scale * (x + w / 2)], [0, scale, size / 2 - scale * (y + h / 2)]])
        patch = cv2.warpAffine(image_bgr, matrix, (size, size), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        boxes, _, _ = self.checker.detect_square(patch, self.AGREE_SCORE)
        wanted = np.array([size / 2 - scale * w / 2, size / 2 - scale * h / 2, scale * w, scale * h])
        return any(iou(found * size, wanted) > 0.3 for found in boxes)
