"""BlazeFace: MediaPipe's full-range face detector (Apache-2.0), converted to ONNX by
``export/blazeface.py`` and shipped inside the package.

Selectable with ``--detector blazeface``; the default detector (:mod:`batchface.faces.checked`) asks it
to confirm the large frontal faces that YuNet is unsure of.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from batchface.faces.boxes import Detections, nms
from batchface.faces.models import ASSETS, onnx_session

BLAZEFACE_FILE = ASSETS / "blazeface_full_range.onnx"
#: what ``BlazeFace`` feeds the network; the file's ``input_normalization`` must say the same
BLAZEFACE_NORMALIZATION = "RGB uint8 / 127.5 - 1, float32 in [-1, 1], NHWC"


class BlazeFace:
    """MediaPipe BlazeFace full-range (192x192 input), run on an image pyramid of overlapping tiles; a
    :class:`batchface.faces.detection.FaceDetector`.

    The network sees 192x192 pixels and finds faces down to about a tenth of its input, so a small
    face in a large group photo is lost on the whole image. The pyramid halves the tile side from
    the whole image down to ``finest_tile`` pixels or a quarter of the image's longer side,
    whichever is larger, with tiles overlapping by a quarter: faces down to about 37 pixels, or a
    fortieth of the longer side, are found. Measured on the dlib sample photos (43 annotated faces
    of 37-109 pixels): all found with 384-pixel tiles, 41 with 512. ``min_face`` (pixels) trades
    that for speed: the finest tile becomes ten times the smallest face wanted, when that is
    coarser (``min_face=80``: 800-pixel tiles, about a third of the time a photo), and narrower
    faces are dropped. Anchor layout, input size and thresholds come from the file's metadata.
    """

    name = "blazeface"
    checker = None  # nothing confirms its faces
    FINEST_TILE = 384  # pixels of the image that the finest pyramid level shows the network at once

    def __init__(
        self, path=BLAZEFACE_FILE, score_threshold: float | None = None, min_face: int | None = None, threads: int = 1
    ):
        self.path = Path(path)
        self.session = onnx_session(self.path, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        if (meta.get("batchface_task"), meta.get("input_normalization")) != ("face_detection", BLAZEFACE_NORMALIZATION):
            raise ValueError(
                f"{self.path}: not a face detector made by export/blazeface.py (its metadata says "
                f"task {meta.get('batchface_task')!r}, input {meta.get('input_normalization')!r})"
            )
        self.size = int(meta["input_size"])
        self.score_threshold = score_threshold or float(meta["score_threshold"])
        self.nms_iou = float(meta["nms_iou"])
        self.min_face = min_face
        self.finest_tile = max(self.FINEST_TILE, 10 * (min_face or 0))
        self.input_name = self.session.get_inputs()[0].name
        grid = self.size // int(meta["anchor_stride"])
        per_cell = int(meta["anchors_per_cell"])
        centers = (np.stack(np.meshgrid(np.arange(grid), np.arange(grid)), -1).reshape(-1, 2) + 0.5) / grid
        self.anchors = np.repeat(centers, per_cell, axis=0)
        # metadata names which of the six keypoints are the image-left eye, image-right eye, mouth
        self.point_index = json.loads(meta["alignment_keypoints"])

    def detect_square(self, patch_bgr: np.ndarray, score_threshold: float | None = None):
        """Run the network on one size x size BGR patch; returns boxes, scores, points in patch-unit coords."""
        x = (patch_bgr[None, :, :, ::-1].astype(np.float32) / 127.5) - 1.0  # BLAZEFACE_NORMALIZATION
        raw, logits = self.session.run(None, {self.input_name: x})
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[0, :, 0], -100, 100)))
        keep = scores >= (score_threshold or self.score_threshold)
        raw, scores, anchors = raw[0, keep] / self.size, scores[keep], self.anchors[keep]
        centre = raw[:, :2] + anchors
        boxes = np.hstack([centre - raw[:, 2:4] / 2, raw[:, 2:4]])
        points = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        return boxes, scores, points

    def _levels(self, width: int, height: int) -> list[int]:
        """Tile sides (pixels) of the pyramid: the whole image, then halves down to the finest side."""
        side = max(width, height)
        finest = max(self.size, self.finest_tile, side // 4)
        sides = [side]
        while side > finest:
            # a level barely above the finest (400 then 384 pixels) finds nothing new: skip it
            side = side // 2 if side // 2 >= finest * 1.5 else finest
            sides.append(side)
        return sides

    def side_needed(self, width: int, height: int) -> int:
        """The longer side (pixels) of the image it needs: all of it (its finest tiles are at full size)."""
        return max(width, height)

    def detect(self, image_bgr: np.ndarray) -> Detections:
        height, width = image_bgr.shape[:2]
        all_boxes, all_scores, all_points = [], [], []
        level = image_bgr
        for side in reversed(self._levels(width, height)):
            # scale the image once per level, so that a tile of `side` pixels is a network input; finest
            # level first, so that each coarser level is shrunk from the last one rather than the original
            scale = self.size / side
            level = cv2.resize(
                level, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
            )
            to_image = np.array([width / level.shape[1], height / level.shape[0]])
            for y0 in _tile_starts(level.shape[0], self.size):
                for x0 in _tile_starts(level.shape[1], self.size):
                    tile = level[y0 : y0 + self.size, x0 : x0 + self.size]
                    # pad the short side (bottom/right) so the network sees an undistorted square
                    tile = cv2.copyMakeBorder(
                        tile, 0, self.size - tile.shape[0], 0, self.size - tile.shape[1], cv2.BORDER_CONSTANT, value=0
                    )
                    boxes, scores, points = self.detect_square(tile)
                    all_boxes.append((boxes * self.size + [x0, y0, 0, 0]) * np.tile(to_image, 2))
                    all_scores.append(scores)
                    all_points.append((points * self.size + [x0, y0]) * to_image)
        boxes, scores, points = np.concatenate(all_boxes), np.concatenate(all_scores), np.concatenate(all_points)
        keep = nms(boxes, scores, self.nms_iou)
        points = points[keep][:, self.point_index]
        return Detections(boxes[keep], scores[keep], points).at_least(self.min_face).sorted()

    def detect_near(self, image_bgr: np.ndarray, box) -> None:
        """None: BlazeFace does not look around a box (a tracker searches the whole frame instead)."""
        return None


def _tile_starts(length: int, tile: int) -> list[int]:
    """Offsets (pixels) of ``tile``-pixel tiles along ``length``, overlapping by a quarter, the last at the end."""
    if length <= tile:
        return [0]
    return list(range(0, length - tile, tile * 3 // 4)) + [length - tile]
