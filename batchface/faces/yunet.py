"""YuNet, the default face detector: OpenCV Zoo's ``face_detection_yunet_2023mar`` (MIT), shipped
inside the package (``export/yunet.py``) and run with onnxruntime.

The network sees the image scaled so that its longer side is at most :attr:`YuNet.SIDE` pixels
(never enlarged), padded to multiples of 32. It finds faces from about :attr:`YuNet.FACE_PX`
pixels wide at that scale up to faces that fill the frame or run off its edge, dim, blurred and
turned ones included (``reports/detectors.md``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from batchface.faces.boxes import Box, Detections, nms, square_around
from batchface.faces.sessions import ASSETS, detector_session

YUNET_FILE = ASSETS / "yunet.onnx"
#: what :class:`YuNet` feeds the network; the file's ``input_normalization`` must say the same
YUNET_NORMALIZATION = "BGR uint8 as float32 in [0, 255], NCHW, sides padded to multiples of 32"


class YuNet:
    """YuNet on one image at a time; :meth:`detect` returns faces in original-image pixels. The
    default detector is YuNet checked by BlazeFace (:mod:`batchface.faces.checked`).

    Args:
        path: the ONNX file made by ``export/yunet.py`` (default: the shipped one).
        threads: the most onnxruntime threads it runs on.
        min_face: look only for faces at least that wide (pixels), by showing the network the image
            scaled so that such a face is :attr:`FACE_PX` pixels wide (faster when that is smaller
            than the default scale, slower and finding smaller faces when larger); narrower faces
            are dropped. None: by ``side``.
        side: the longer side (pixels) the network sees without ``min_face`` (None: :attr:`SIDE`).

    Raises:
        ValueError: the file is not a face detector made by ``export/yunet.py``.
    """

    SIDE = 960  # the longer side (pixels) the network sees by default: faces of 1/40 of it are FACE_PX wide
    FACE_PX = 24  # on the keypoint set's frames scaled so, YuNet finds 99 % of faces this wide, 93 % at 20 px
    TRACK_PX = 96  # pixels: how wide a tracked face is, at most, where the network looks for it again
    EDGE_SCORE = 0.6  # the score that suffices for a face cut by the image's border: it shows less of itself
    EDGE = 0.1  # a face is cut when an eye or its mouth is this close to a border (a fraction of its width)

    name = "yunet"
    checker = None  # YuNet alone; batchface.faces.checked.CheckedYuNet has one

    def __init__(
        self,
        path: str | os.PathLike = YUNET_FILE,
        threads: int = 1,
        min_face: int | None = None,
        side: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.session, meta = detector_session(self.path, threads, YUNET_NORMALIZATION, "export/yunet.py")
        self.strides = json.loads(meta["strides"])
        self.multiple = int(meta["input_multiple"])
        self.score_threshold = float(meta["score_threshold"])
        self.nms_iou = float(meta["nms_iou"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.min_face = min_face
        self.side = side or self.SIDE

    def scale_for(self, width: int, height: int) -> float:
        """How the network sees an image.

        Args:
            width: the image's width, pixels.
            height: the image's height, pixels.

        Returns:
            The factor (at most 1) by which the image is scaled for the network.
        """
        if self.min_face:
            return min(1.0, self.FACE_PX / self.min_face)
        return min(1.0, self.side / max(width, height))

    def side_needed(self, width: int, height: int) -> int:
        """As :meth:`batchface.faces.detection.FaceDetector.side_needed`:
        as large as the network sees it, more resolution is not used."""
        return int(np.ceil(max(width, height) * self.scale_for(width, height)))

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """The faces of an image.

        Args:
            image_bgr: 8-bit BGR, [H, W, 3].

        Returns:
            Its faces, in its pixels, left to right.
        """
        height, width = image_bgr.shape[:2]
        return self._found(image_bgr, (0, 0, width, height), self.scale_for(width, height))

    def detect_near(self, image_bgr: np.ndarray, box: Box) -> Detections:
        """The faces around where a face was, by the rules of :meth:`detect`: the network sees the
        square twice the box's size about its centre, scaled so that the box is :attr:`TRACK_PX`
        pixels wide.

        Args:
            image_bgr: the frame, 8-bit BGR.
            box: where the face was in the previous sampled frame of a video, x, y, w, h pixels.

        Returns:
            The faces found there, in the frame's pixels, left to right.
        """
        region = square_around(box, image_bgr.shape[1], image_bgr.shape[0])
        if region is None:
            return Detections.empty()
        return self._found(image_bgr, region, min(1.0, self.TRACK_PX / max(box[2], 1)))

    def _found(self, image_bgr: np.ndarray, region: tuple[int, int, int, int], scale: float) -> Detections:
        """The faces the network finds in ``region`` (x0, y0, x1, y1 pixels) of the image scaled by
        ``scale`` that pass the thresholds, in the image's pixels, left to right."""
        x0, y0, x1, y1 = region
        height, width = image_bgr[y0:y1, x0:x1].shape[:2]
        part = _shrunk(image_bgr[y0:y1, x0:x1], scale)
        # each axis has its own factor back: the sides were rounded (and kept >= 1 pixel) apart
        found = self._run(part).scaled(width / part.shape[1], height / part.shape[0]).moved(x0, y0)
        cut = cut_off(found, image_bgr.shape[1], image_bgr.shape[0], self.EDGE)
        return found.select((found.scores >= self.score_threshold) | cut).at_least(self.min_face).sorted()

    def _run(self, image: np.ndarray) -> Detections:
        """Faces in ``image``'s own pixels, after NMS."""
        blob = _network_input(image, self.multiple)
        outputs = dict(zip(self.output_names, self.session.run(None, {self.input_name: blob})))
        boxes, scores, points = decode(outputs, self.strides, blob.shape[3], min(self.score_threshold, self.EDGE_SCORE))
        keep = nms(boxes, scores, self.nms_iou)
        return Detections(boxes[keep], scores[keep], _alignment(points[keep]))


def _shrunk(part: np.ndarray, scale: float) -> np.ndarray:
    """``part`` of an image scaled by ``scale`` (at most 1), each side at least a pixel."""
    if scale >= 1.0:
        return part
    height, width = part.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # shrunk by under half, every pixel still weighs in bilinearly, at a tenth of INTER_AREA's time
    return cv2.resize(part, size, interpolation=cv2.INTER_LINEAR if scale > 0.5 else cv2.INTER_AREA)


def _network_input(image: np.ndarray, multiple: int) -> np.ndarray:
    """An image as the network reads it (:data:`YUNET_NORMALIZATION`): [1, 3, H', W'] float32, the
    sides padded (black, bottom and right) to multiples of ``multiple``."""
    height, width = image.shape[:2]
    padded_h, padded_w = (-(-side // multiple) * multiple for side in (height, width))
    padded = cv2.copyMakeBorder(image, 0, padded_h - height, 0, padded_w - width, cv2.BORDER_CONSTANT, value=0)
    return padded.transpose(2, 0, 1)[None].astype(np.float32)


def _alignment(five: np.ndarray) -> np.ndarray:
    """The alignment points [N, 3, 2] of YuNet's five points [N, 5, 2]: image-left eye, image-right
    eye, nose tip, image-left and image-right mouth corner; the mouth's centre between the corners."""
    return np.stack([five[:, 0], five[:, 1], (five[:, 3] + five[:, 4]) / 2], 1)


def cut_off(found: Detections, width: int, height: int, edge: float = YuNet.EDGE) -> np.ndarray:
    """Which faces the border of an image cuts: an eye or the mouth outside it, or closer to it than
    ``edge`` of the box's width.

    Args:
        found: the faces, in the image's pixels.
        width: the image's width, pixels.
        height: the image's height, pixels.
        edge: how close to the border is cut, a fraction of the box's width.

    Returns:
        [N] bool, one for each face.
    """
    margin = (edge * found.boxes[:, 2])[:, None]
    x, y = found.points[..., 0], found.points[..., 1]
    return np.asarray(((x < margin) | (y < margin) | (x > width - margin) | (y > height - margin)).any(axis=1))


def decode(
    outputs: dict[str, np.ndarray], strides: Sequence[int], padded_width: int, min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The faces of YuNet's outputs, decoded as ``cv2.FaceDetectorYN`` does.

    Args:
        outputs: the network's outputs by name (``cls_8``, ``obj_8``, ``bbox_8``, ``kps_8``, ...).
        strides: the strides of its outputs, pixels.
        padded_width: the width of the input it saw, pixels.
        min_score: the least score of an anchor kept.

    Returns:
        Boxes [N, 4] (x, y, w, h), scores [N] and five points [N, 5, 2] (x, y) of every anchor scoring
        at least ``min_score``, in pixels of the padded input, before NMS.
    """
    boxes, scores, points = [], [], []
    for stride in strides:
        cols = padded_width // stride
        score = np.sqrt(
            np.clip(outputs[f"cls_{stride}"][0, :, 0], 0, 1) * np.clip(outputs[f"obj_{stride}"][0, :, 0], 0, 1)
        )
        keep = np.flatnonzero(score >= min_score)
        cell = np.stack([keep % cols, keep // cols], 1).astype(np.float64)  # x, y of each anchor cell
        box = outputs[f"bbox_{stride}"][0, keep].astype(np.float64)
        centre, size = (cell + box[:, :2]) * stride, np.exp(box[:, 2:4]) * stride
        boxes.append(np.hstack([centre - size / 2, size]))
        scores.append(score[keep].astype(np.float64))
        points.append((outputs[f"kps_{stride}"][0, keep].reshape(-1, 5, 2) + cell[:, None]) * stride)
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(points)
