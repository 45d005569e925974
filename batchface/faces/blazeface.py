"""BlazeFace: MediaPipe's full-range face detector (Apache-2.0), converted to ONNX by
``export/blazeface.py`` and shipped inside the package.

Selectable with ``--detector blazeface``; the default detector (:mod:`batchface.faces.checked`) asks it
to confirm the large frontal faces that YuNet is unsure of.

The network sees 192x192 pixels and finds faces down to about a tenth of its input, so a small
face in a large group photo is lost on the whole image. :class:`BlazeFace` runs it on an image
pyramid that halves the tile side from the whole image down to ``finest_tile`` pixels or a quarter
of the image's longer side, whichever is larger, with tiles overlapping by a quarter: faces down to
about 37 pixels, or a fortieth of the longer side, are found. Measured on the dlib sample photos
(43 annotated faces of 37-109 pixels): all found with 384-pixel tiles, 41 with 512. ``min_face``
(pixels) trades that for speed: the finest tile becomes ten times the smallest face wanted, when
that is coarser (``min_face=80``: 800-pixel tiles, about a third of the time a photo), and
narrower faces are dropped. Anchor layout, input size and thresholds come from the file's metadata.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from batchface.faces.boxes import Box, Detections, nms
from batchface.faces.sessions import ASSETS, detector_session

BLAZEFACE_FILE = ASSETS / "blazeface_full_range.onnx"
#: what ``BlazeFace`` feeds the network; the file's ``input_normalization`` must say the same
BLAZEFACE_NORMALIZATION = "RGB uint8 / 127.5 - 1, float32 in [-1, 1], NHWC"


class BlazeFace:
    """MediaPipe BlazeFace full-range (192x192 input), run on an image pyramid of overlapping tiles
    (see the module's text); a :class:`batchface.faces.detection.FaceDetector`.

    Args:
        path: the ONNX file made by ``export/blazeface.py`` (default: the shipped one).
        score_threshold: the least score of a face kept (None: the file's).
        min_face: the width (pixels) of the narrowest face to look for; the finest tile becomes ten
            times that when that is coarser (None: all it can find).
        threads: the most onnxruntime threads it runs on.

    Raises:
        ValueError: the file is not a face detector made by ``export/blazeface.py``.
    """

    name = "blazeface"
    checker = None  # nothing confirms its faces
    FINEST_TILE = 384  # pixels of the image that the finest pyramid level shows the network at once

    def __init__(
        self,
        path: str | os.PathLike = BLAZEFACE_FILE,
        score_threshold: float | None = None,
        min_face: int | None = None,
        threads: int = 1,
    ) -> None:
        self.path = Path(path)
        self.session, meta = detector_session(self.path, threads, BLAZEFACE_NORMALIZATION, "export/blazeface.py")
        self.size = int(meta["input_size"])
        self.score_threshold = score_threshold or float(meta["score_threshold"])
        self.nms_iou = float(meta["nms_iou"])
        self.min_face = min_face
        self.finest_tile = max(self.FINEST_TILE, 10 * (min_face or 0))
        self.input_name = self.session.get_inputs()[0].name
        self.anchors = _anchors(self.size // int(meta["anchor_stride"]), int(meta["anchors_per_cell"]))
        # metadata names which of the six keypoints are the image-left eye, image-right eye, mouth
        self.point_index = json.loads(meta["alignment_keypoints"])

    def detect_square(
        self, patch_bgr: np.ndarray, score_threshold: float | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run the network once.

        Args:
            patch_bgr: [size, size, 3] 8-bit BGR, the network's input side.
            score_threshold: the least score of a face kept (None: the detector's).

        Returns:
            Boxes [N, 4] (x, y, w, h), scores [N] and six points [N, 6, 2] (x, y), before NMS, in
            fractions of the patch's side.
        """
        x = (patch_bgr[None, :, :, ::-1].astype(np.float32) / 127.5) - 1.0  # BLAZEFACE_NORMALIZATION
        raw, logits = self.session.run(None, {self.input_name: x})
        return decode(raw[0], logits[0, :, 0], self.anchors, self.size, score_threshold or self.score_threshold)

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
        """As :meth:`batchface.faces.detection.FaceDetector.side_needed`:
        all of it (its finest tiles are at full size)."""
        return max(width, height)

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """The faces of an image, searched on every level of the pyramid.

        Args:
            image_bgr: 8-bit BGR, [H, W, 3].

        Returns:
            Its faces, in its pixels, left to right.
        """
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
            for x0, y0, tile in _tiles(level, self.size):
                boxes, scores, points = self.detect_square(tile)
                all_boxes.append((boxes * self.size + [x0, y0, 0, 0]) * np.tile(to_image, 2))
                all_scores.append(scores)
                all_points.append((points * self.size + [x0, y0]) * to_image)
        boxes, scores, points = np.concatenate(all_boxes), np.concatenate(all_scores), np.concatenate(all_points)
        keep = nms(boxes, scores, self.nms_iou)
        points = points[keep][:, self.point_index]
        return Detections(boxes[keep], scores[keep], points).at_least(self.min_face).sorted()

    def detect_near(self, image_bgr: np.ndarray, box: Box) -> None:
        """Nothing: BlazeFace does not look around a box (a tracker searches the whole frame instead).

        Args:
            image_bgr: the frame, 8-bit BGR.
            box: where a face was, x, y, w, h pixels.

        Returns:
            None.
        """
        return None


def decode(
    raw: np.ndarray, logits: np.ndarray, anchors: np.ndarray, size: int, min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The faces of BlazeFace's outputs, as MediaPipe decodes them.

    Args:
        raw: [A, 16] each anchor's box (centre offset x, y, then w, h) and six points (x, y), pixels
            of the network's input, relative to the anchor.
        logits: [A] each anchor's score before the sigmoid.
        anchors: [A, 2] the anchors' centres, fractions of the input's side.
        size: the input's side, pixels.
        min_score: the least score of an anchor kept.

    Returns:
        Boxes [N, 4] (x, y, w, h), scores [N] and six points [N, 6, 2] (x, y) of every anchor scoring
        at least ``min_score``, before NMS, in fractions of the input's side.
    """
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100, 100)))
    keep = scores >= min_score
    raw, scores, anchors = raw[keep] / size, scores[keep], anchors[keep]
    centre = raw[:, :2] + anchors
    boxes = np.hstack([centre - raw[:, 2:4] / 2, raw[:, 2:4]])
    points = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
    return boxes, scores, points


def _anchors(grid: int, per_cell: int) -> np.ndarray:
    """The network's anchors [grid * grid * per_cell, 2]: the centre (x, y) of each cell of its output
    grid, row by row, ``per_cell`` times, in fractions of its input's side."""
    centers = (np.stack(np.meshgrid(np.arange(grid), np.arange(grid)), -1).reshape(-1, 2) + 0.5) / grid
    return np.repeat(centers, per_cell, axis=0)


def _tiles(level: np.ndarray, size: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """(x0, y0, tile) of the ``size``-pixel square tiles of an image, overlapping by a quarter, each
    padded with black at the bottom and right where the image is shorter, so that the network sees
    an undistorted square."""
    for y0 in _tile_starts(level.shape[0], size):
        for x0 in _tile_starts(level.shape[1], size):
            tile = level[y0 : y0 + size, x0 : x0 + size]
            yield (
                x0,
                y0,
                cv2.copyMakeBorder(
                    tile, 0, size - tile.shape[0], 0, size - tile.shape[1], cv2.BORDER_CONSTANT, value=0
                ),
            )


def _tile_starts(length: int, tile: int) -> list[int]:
    """Offsets (pixels) of ``tile``-pixel tiles along ``length``, overlapping by a quarter, the last at the end."""
    if length <= tile:
        return [0]
    return list(range(0, length - tile, tile * 3 // 4)) + [length - tile]
