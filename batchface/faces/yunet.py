"""YuNet, the default face detector: OpenCV Zoo's ``face_detection_yunet_2023mar`` (MIT), shipped
inside the package (``export/yunet.py``) and run with onnxruntime.

The network sees the image scaled so that its longer side is at most :attr:`YuNet.SIDE` pixels
(never enlarged), padded to multiples of 32. It finds faces from about :attr:`YuNet.FACE_PX`
pixels wide at that scale up to faces that fill the frame or run off its edge, dim, blurred and
turned ones included (``reports/detectors.md``).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from batchface.faces.boxes import Detections, nms, square_around
from batchface.faces.models import ASSETS, onnx_session

YUNET_FILE = ASSETS / "yunet.onnx"
#: what :class:`YuNet` feeds the network; the file's ``input_normalization`` must say the same
YUNET_NORMALIZATION = "BGR uint8 as float32 in [0, 255], NCHW, sides padded to multiples of 32"


class YuNet:
    """YuNet on one image at a time; :meth:`detect` returns faces in original-image pixels.

    ``min_face`` (pixels): look only for faces at least that wide, by showing the network the image
    scaled so that such a face is :attr:`FACE_PX` pixels wide (faster when that is smaller than the
    default scale, slower and finding smaller faces when larger); narrower faces are dropped.
    ``side``: the longer side (pixels) the network sees without ``min_face`` (default :attr:`SIDE`).
    The default detector is YuNet checked by BlazeFace (:mod:`batchface.faces.checked`).
    """

    SIDE = 960  # the longer side (pixels) the network sees by default: faces of 1/40 of it are FACE_PX wide
    FACE_PX = 24  # on the keypoint set's frames scaled so, YuNet finds 99 % of faces this wide, 93 % at 20 px
    TRACK_PX = 96  # pixels: how wide a tracked face is, at most, where the network looks for it again
    EDGE_SCORE = 0.6  # the score that suffices for a face cut by the image's border: it shows less of itself
    EDGE = 0.1  # a face is cut when an eye or its mouth is this close to a border (a fraction of its width)

    name = "yunet"
    checker = None  # YuNet alone; batchface.faces.checked.CheckedYuNet has one

    def __init__(self, path=YUNET_FILE, threads: int = 1, min_face: int | None = None, side: int | None = None):
        self.path = Path(path)
        self.session = onnx_session(self.path, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        if (meta.get("batchface_task"), meta.get("input_normalization")) != ("face_detection", YUNET_NORMALIZATION):
            raise ValueError(
                f"{self.path}: not a face detector made by export/yunet.py (its metadata says "
                f"task {meta.get('batchface_task')!r}, input {meta.get('input_normalization')!r})"
            )
        self.strides = json.loads(meta["strides"])
        self.multiple = int(meta["input_multiple"])
        self.score_threshold = float(meta["score_threshold"])
        self.nms_iou = float(meta["nms_iou"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.min_face = min_face
        self.side = side or self.SIDE

    def scale_for(self, width: int, height: int) -> float:
        """The factor (at most 1) by which the image is scaled for the network."""
        if self.min_face:
            return min(1.0, self.FACE_PX / self.min_face)
        return min(1.0, self.side / max(width, height))

    def side_needed(self, width: int, height: int) -> int:
        """The longer side (pixels) of the image as the network sees it: more resolution is not used."""
        return int(np.ceil(max(width, height) * self.scale_for(width, height)))

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """The faces of an 8-bit BGR image, in its pixels, largest score first."""
        height, width = image_bgr.shape[:2]
        return self._accepted(image_bgr, self._seen(image_bgr, (0, 0, width, height), self.scale_for(width, height)))

    def detect_near(self, image_bgr: np.ndarray, box) -> Detections:
        """The faces around ``box`` (x, y, w, h pixels: where a face was in the previous sampled frame
        of a video), by the rules of :meth:`detect`: the network sees the square twice the box's size
        about its centre, scaled so that the box is :attr:`TRACK_PX` pixels wide."""
        region = square_around(box, image_bgr.shape[1], image_bgr.shape[0])
        if region is None:
            return Detections.empty()
        return self._accepted(image_bgr, self._seen(image_bgr, region, min(1.0, self.TRACK_PX / max(box[2], 1))))

    def _seen(self, image_bgr: np.ndarray, region, scale: float) -> Detections:
        """What the network finds in ``region`` (x0, y0, x1, y1 pixels) of the image scaled by ``scale``,
        in the image's pixels, before the thresholds."""
        x0, y0, x1, y1 = region
        part = image_bgr[y0:y1, x0:x1]
        height, width = part.shape[:2]
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            # shrunk by under half, every pixel still weighs in bilinearly, at a tenth of INTER_AREA's time
            part = cv2.resize(part, size, interpolation=cv2.INTER_LINEAR if scale > 0.5 else cv2.INTER_AREA)
        # each axis has its own factor back: the sides were rounded (and kept >= 1 pixel) apart
        return self._run(part).scaled(width / part.shape[1], height / part.shape[0]).moved(x0, y0)

    def _accepted(self, image_bgr: np.ndarray, found: Detections) -> Detections:
        """The faces of ``found`` (in ``image_bgr``'s pixels) that pass the thresholds."""
        height, width = image_bgr.shape[:2]
        found = found.select((found.scores >= self.score_threshold) | cut_off(found, width, height, self.EDGE))
        return found.at_least(self.min_face).sorted()

    def _run(self, image: np.ndarray) -> Detections:
        """Faces in ``image``'s own pixels, after NMS."""
        height, width = image.shape[:2]
        padded_h, padded_w = (-(-side // self.multiple) * self.multiple for side in (height, width))
        padded = cv2.copyMakeBorder(image, 0, padded_h - height, 0, padded_w - width, cv2.BORDER_CONSTANT, value=0)
        blob = padded.transpose(2, 0, 1)[None].astype(np.float32)
        outputs = dict(zip(self.output_names, self.session.run(None, {self.input_name: blob})))
        boxes, scores, points = decode(outputs, self.strides, padded_w, min(self.score_threshold, self.EDGE_SCORE))
        keep = nms(boxes, scores, self.nms_iou)
        # five points: image-left eye, image-right eye, nose tip, image-left and image-right mouth corner
        five = points[keep]
        alignment = np.stack([five[:, 0], five[:, 1], (five[:, 3] + five[:, 4]) / 2], 1)
        return Detections(boxes[keep], scores[keep], alignment)


def cut_off(found: Detections, width: int, height: int, edge: float = YuNet.EDGE) -> np.ndarray:
    """Which faces the border of a ``width`` x ``height`` image cuts: an eye or the mouth outside it,
    or closer to it than ``edge`` of the box's width."""
    margin = (edge * found.boxes[:, 2])[:, None]
    x, y = found.points[..., 0], found.points[..., 1]
    return ((x < margin) | (y < margin) | (x > width - margin) | (y > height - margin)).any(axis=1)


def decode(outputs: dict, strides, padded_width: int, min_score: float):
    """Boxes [N, 4] (x, y, w, h), scores [N] and five points [N, 5, 2] (x, y) of every anchor scoring at
    least ``min_score``, in pixels of the padded input, before NMS: YuNet's outputs by name
    (``cls_8``, ``obj_8``, ``bbox_8``, ``kps_8``, ...), decoded as ``cv2.FaceDetectorYN`` does."""
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
