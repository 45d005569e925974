"""Face detectors. Each returns :class:`Detections` in original-image pixels.

Two detectors: BlazeFace (MediaPipe's full-range model converted to ONNX by ``export/blazeface.py``),
shipped inside the package so the default works offline, and YuNet (OpenCV Zoo) run through
``cv2.FaceDetectorYN`` when its file is available (``batchface models fetch yunet``).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from batchface.models import ASSETS, onnx_session, sha256_of

BLAZEFACE_FILE = ASSETS / "blazeface_full_range.onnx"
#: what ``BlazeFace`` feeds the network; the file's ``input_normalization`` must say the same
BLAZEFACE_NORMALIZATION = "RGB uint8 / 127.5 - 1, float32 in [-1, 1], NHWC"
YUNET_NAME = "face_detection_yunet_2023mar.onnx"
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
YUNET_URL = ("https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
             + YUNET_NAME)
DETECTORS = ("auto", "blazeface", "yunet")


@dataclass
class Detections:
    """Faces found in one image, ordered left to right by box centre.

    ``boxes``: [N, 4] float (x, y, w, h) in pixels, origin top-left; ``scores``: [N] in [0, 1];
    ``points``: [N, 3, 2] the alignment points (image-left eye, image-right eye, mouth centre), x before y.
    """

    boxes: np.ndarray
    scores: np.ndarray
    points: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 3, 2)))

    def at_least(self, min_face: int | None) -> "Detections":
        """The faces whose box is at least ``min_face`` pixels wide (all when None)."""
        if not min_face:
            return self
        keep = self.boxes[:, 2] >= min_face
        return Detections(self.boxes[keep], self.scores[keep], self.points[keep])

    def sorted(self) -> "Detections":
        order = np.argsort(self.boxes[:, 0] + self.boxes[:, 2] / 2, kind="stable")
        return Detections(self.boxes[order], self.scores[order], self.points[order])


def cache_dir() -> Path:
    """Where fetched models live: ``$BATCHFACE_CACHE``, else ``$XDG_CACHE_HOME/batchface``, else ``~/.cache/batchface``."""
    if os.environ.get("BATCHFACE_CACHE"):
        return Path(os.environ["BATCHFACE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "batchface"


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by non-maximum suppression of (x, y, w, h) boxes, best first."""
    if len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), 0.0, iou)
    return np.array(keep, dtype=np.int64).reshape(-1)


class BlazeFace:
    """MediaPipe BlazeFace full-range (192x192 input), run on an image pyramid of overlapping tiles.

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

    FINEST_TILE = 384  # pixels of the image that the finest pyramid level shows the network at once

    def __init__(self, path=BLAZEFACE_FILE, score_threshold: float | None = None, min_face: int | None = None,
                 threads: int = 1):
        self.path = Path(path)
        self.session = onnx_session(self.path, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        if (meta.get("batchface_task"), meta.get("input_normalization")) != ("face_detection", BLAZEFACE_NORMALIZATION):
            raise ValueError(f"{self.path}: not a face detector made by export/blazeface.py (its metadata says "
                             f"task {meta.get('batchface_task')!r}, input {meta.get('input_normalization')!r})")
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

    def _detect_square(self, patch_bgr: np.ndarray):
        """Run the network on one size x size BGR patch; returns boxes, scores, points in patch-unit coords."""
        x = (patch_bgr[None, :, :, ::-1].astype(np.float32) / 127.5) - 1.0  # BLAZEFACE_NORMALIZATION
        raw, logits = self.session.run(None, {self.input_name: x})
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[0, :, 0], -100, 100)))
        keep = scores >= self.score_threshold
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

    def detect(self, image_bgr: np.ndarray) -> Detections:
        height, width = image_bgr.shape[:2]
        all_boxes, all_scores, all_points = [], [], []
        level = image_bgr
        for side in reversed(self._levels(width, height)):
            # scale the image once per level, so that a tile of `side` pixels is a network input; finest
            # level first, so that each coarser level is shrunk from the last one rather than the original
            scale = self.size / side
            level = cv2.resize(level, (max(1, round(width * scale)), max(1, round(height * scale))),
                               interpolation=cv2.INTER_AREA)
            to_image = np.array([width / level.shape[1], height / level.shape[0]])
            for y0 in _tile_starts(level.shape[0], self.size):
                for x0 in _tile_starts(level.shape[1], self.size):
                    tile = level[y0:y0 + self.size, x0:x0 + self.size]
                    # pad the short side (bottom/right) so the network sees an undistorted square
                    tile = cv2.copyMakeBorder(tile, 0, self.size - tile.shape[0], 0, self.size - tile.shape[1],
                                              cv2.BORDER_CONSTANT, value=0)
                    boxes, scores, points = self._detect_square(tile)
                    all_boxes.append((boxes * self.size + [x0, y0, 0, 0]) * np.tile(to_image, 2))
                    all_scores.append(scores)
                    all_points.append((points * self.size + [x0, y0]) * to_image)
        boxes, scores, points = np.concatenate(all_boxes), np.concatenate(all_scores), np.concatenate(all_points)
        keep = nms(boxes, scores, self.nms_iou)
        points = points[keep][:, self.point_index]
        return Detections(boxes[keep], scores[keep], points).at_least(self.min_face).sorted()


def _tile_starts(length: int, tile: int) -> list[int]:
    """Offsets (pixels) of ``tile``-pixel tiles along ``length``, overlapping by a quarter, the last at the end."""
    if length <= tile:
        return [0]
    return list(range(0, length - tile, tile * 3 // 4)) + [length - tile]


class YuNet:
    """OpenCV Zoo's YuNet run through ``cv2.FaceDetectorYN`` at the image's own size.

    Images with a side over ``max_side`` pixels are scaled down first (large group photos
    stay detectable: YuNet finds faces from about 10 pixels up). ``min_face`` (pixels) scales
    further down, until a face that wide is 20 pixels wide, for speed; narrower faces are dropped.
    """

    def __init__(self, path, score_threshold: float = 0.7, nms_iou: float = 0.3, max_side: int = 2048,
                 min_face: int | None = None):
        self.path = Path(path)
        self.max_side = max_side
        self.min_face = min_face
        self.detector = cv2.FaceDetectorYN.create(str(self.path), "", (320, 320), score_threshold,
                                                  nms_iou, 5000)

    def detect(self, image_bgr: np.ndarray) -> Detections:
        height, width = image_bgr.shape[:2]
        scale = min(1.0, self.max_side / max(height, width), 20 / self.min_face if self.min_face else 1.0)
        if scale < 1.0:
            image_bgr = cv2.resize(image_bgr, (max(1, round(width * scale)), max(1, round(height * scale))),
                                   interpolation=cv2.INTER_AREA)
        # each axis has its own factor back: the sides were rounded (and kept >= 1 pixel) apart
        to_image = np.array([width / image_bgr.shape[1], height / image_bgr.shape[0]])
        self.detector.setInputSize((image_bgr.shape[1], image_bgr.shape[0]))
        _, faces = self.detector.detect(image_bgr)
        if faces is None or len(faces) == 0:
            return Detections.empty()
        faces = faces.astype(np.float64)
        landmarks = faces[:, 4:14].reshape(-1, 5, 2) * to_image
        points = np.stack([landmarks[:, 0], landmarks[:, 1], (landmarks[:, 3] + landmarks[:, 4]) / 2], 1)
        boxes = faces[:, :4] * np.tile(to_image, 2)
        return Detections(boxes, faces[:, 14], points).at_least(self.min_face).sorted()


def find_yunet(path=None) -> Path | None:
    """The YuNet file to use: ``path`` if given, else the fetched copy in :func:`cache_dir`, else None."""
    if path:
        return Path(path)
    cached = cache_dir() / YUNET_NAME
    return cached if cached.is_file() else None


def create_detector(name: str = "auto", model_path=None, threads: int = 1, min_face: int | None = None):
    """A detector by name: ``blazeface``, ``yunet`` or ``auto`` (YuNet when its file is at hand, else BlazeFace).

    ``min_face``: the width (pixels) of the smallest face to look for; None finds the smallest each can.
    """
    if min_face is not None and min_face < 1:
        raise ValueError(f"min_face must be at least 1 pixel, not {min_face}")
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}: choose one of {', '.join(DETECTORS)}")
    if model_path and not Path(model_path).is_file():
        raise FileNotFoundError(f"detector model {model_path}: no such file")
    try:
        if name == "blazeface":
            return BlazeFace(model_path or BLAZEFACE_FILE, min_face=min_face, threads=threads)
        yunet = find_yunet(model_path)
        if yunet is None:
            if name == "yunet":
                raise FileNotFoundError("YuNet's model file is not here: run `batchface models fetch yunet` "
                                        "or pass --detector-model PATH")
            return BlazeFace(min_face=min_face, threads=threads)
        return YuNet(yunet, min_face=min_face)
    except FileNotFoundError:
        raise
    except Exception as e:  # onnxruntime and OpenCV raise their own types for a file that is no model
        raise ValueError(f"cannot load detector model {model_path or ''}: {str(e).strip().splitlines()[-1]}") from None


def fetch_yunet(url: str = YUNET_URL, dest_dir=None) -> Path:
    """Download YuNet, check its sha256 and keep it in the cache folder; returns the file's path."""
    import tempfile
    import urllib.request

    dest_dir = Path(dest_dir) if dest_dir else cache_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / YUNET_NAME
    if dest.is_file() and sha256_of(dest) == YUNET_SHA256:
        return dest
    with tempfile.NamedTemporaryFile(dir=dest_dir, delete=False, suffix=".part") as tmp:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                while chunk := response.read(1 << 16):
                    tmp.write(chunk)
        except BaseException:
            os.unlink(tmp.name)  # no half download left in the cache
            raise
    got = sha256_of(tmp.name)
    if got != YUNET_SHA256:
        os.unlink(tmp.name)
        raise ValueError(f"download from {url} has sha256 {got}, expected {YUNET_SHA256}")
    os.replace(tmp.name, dest)
    return dest
