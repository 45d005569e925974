"""Face detectors: what one is (:class:`FaceDetector`) and the ones that ship, by name (:data:`DETECTORS`).

``yunet``, the default, is YuNet checked by BlazeFace (:mod:`batchface.faces.checked`); ``blazeface`` is
BlazeFace alone (:mod:`batchface.faces.blazeface`). Both return :class:`batchface.faces.boxes.Detections`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from batchface.errors import one_line
from batchface.faces.blazeface import BLAZEFACE_FILE, BlazeFace
from batchface.faces.boxes import Box, Detections
from batchface.faces.checked import CheckedYuNet
from batchface.faces.yunet import YUNET_FILE, YuNet
from batchface.vocabulary import Detector


class FaceDetector(Protocol):
    """What the analyzer, the tracker and the run's provenance ask of a detector.

    Boxes are x, y, w, h and points x, y, in the pixels of the image given (origin top-left).
    """

    name: str  #: its name in :data:`DETECTORS`, as the table's provenance records it
    path: Path  #: its model file
    min_face: int | None  #: pixels: the width of the narrowest face it looks for (None: its default)

    @property
    def checker(self) -> FaceDetector | None:
        """The detector that confirms the faces it is unsure of, if any."""
        ...

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """The faces of an image.

        Args:
            image_bgr: 8-bit BGR, [H, W, 3].

        Returns:
            Its faces, in its pixels.
        """
        ...

    def detect_near(self, image_bgr: np.ndarray, box: Box) -> Detections | None:
        """The faces around where a face was in the previous sampled frame of a video.

        Args:
            image_bgr: the frame, 8-bit BGR.
            box: where the face was, x, y, w, h pixels.

        Returns:
            The faces found there, in the frame's pixels; None where the detector does not look near
            a box (the tracker then searches the whole frame).
        """
        ...

    def side_needed(self, width: int, height: int) -> int:
        """How large an image it needs.

        Args:
            width: the image's width, pixels.
            height: the image's height, pixels.

        Returns:
            The longer side (pixels) that is enough for it.
        """
        ...


#: the detectors by name: each makes one of ``model_path`` (None: the shipped file), ``threads`` and
#: ``min_face`` (pixels, None: its default); keyed by :class:`batchface.vocabulary.Detector`, each a str
Factory = Callable[[Path | None, int, int | None], FaceDetector]
DETECTORS: dict[str, Factory] = {}


def register(name: Detector) -> Callable[[Factory], Factory]:
    """Add the decorated detector factory to :data:`DETECTORS`.

    Args:
        name: its name.

    Returns:
        The decorator, which returns the factory as it is.
    """

    def add(factory: Factory) -> Factory:
        DETECTORS[name] = factory
        return factory

    return add


@register(Detector.yunet)
def yunet_checked_by_blazeface(model_path: Path | None, threads: int, min_face: int | None) -> FaceDetector:
    """The default detector: YuNet, BlazeFace confirming the faces it is unsure of.

    Args:
        model_path: YuNet's file (None: the shipped one).
        threads: onnxruntime's threads, each network.
        min_face: the width (pixels) of the smallest face to look for (None: YuNet's default).

    Returns:
        The detector.
    """
    return CheckedYuNet(YuNet(model_path or YUNET_FILE, threads=threads, min_face=min_face), BlazeFace(threads=threads))


@register(Detector.blazeface)
def blazeface_alone(model_path: Path | None, threads: int, min_face: int | None) -> FaceDetector:
    """BlazeFace alone, on image tiles.

    Args:
        model_path: BlazeFace's file (None: the shipped one).
        threads: onnxruntime's threads.
        min_face: the width (pixels) of the smallest face to look for (None: BlazeFace's default).

    Returns:
        The detector.
    """
    return BlazeFace(model_path or BLAZEFACE_FILE, min_face=min_face, threads=threads)


def create_detector(
    name: str = Detector.yunet,
    model_path: str | os.PathLike | None = None,
    threads: int = 1,
    min_face: int | None = None,
) -> FaceDetector:
    """A detector of :data:`DETECTORS` by name.

    Args:
        name: ``yunet`` (checked by BlazeFace where it is unsure) or ``blazeface``.
        model_path: the detector's file, made by ``export/yunet.py`` or ``export/blazeface.py``
            (default: the shipped one).
        threads: onnxruntime's threads.
        min_face: the width (pixels) of the smallest face to look for (None: the detector's default).

    Returns:
        The detector, its model loaded.

    Raises:
        ValueError: an unknown name, a ``min_face`` under 1, or a file that is no such detector.
        FileNotFoundError: ``model_path`` does not exist.
    """
    if min_face is not None and min_face < 1:
        raise ValueError(f"min_face must be at least 1 pixel, not {min_face}")
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}: choose one of {', '.join(DETECTORS)}")
    if model_path and not Path(model_path).is_file():
        raise FileNotFoundError(f"detector model {model_path}: no such file")
    try:
        return DETECTORS[name](Path(model_path) if model_path else None, threads, min_face)
    except Exception as e:  # onnxruntime raises its own types for a file that is no model
        raise ValueError(f"cannot load detector model {model_path or ''}: {one_line(e, with_type=False)}") from None
