"""Face detectors by name. Two ship inside the package: YuNet (:mod:`batchface.faces.yunet`, the default)
and BlazeFace (:mod:`batchface.faces.blazeface`); the default is YuNet, with BlazeFace confirming the large
frontal faces that YuNet is unsure of. Both return :class:`batchface.faces.boxes.Detections`.
"""

from __future__ import annotations

from pathlib import Path

from batchface.errors import one_line
from batchface.faces.blazeface import BLAZEFACE_FILE, BlazeFace
from batchface.faces.yunet import YUNET_FILE, YuNet

DETECTORS = ("yunet", "blazeface")


def create_detector(name: str = "yunet", model_path=None, threads: int = 1, min_face: int | None = None):
    """A detector by name: ``yunet`` (checked by BlazeFace where it is unsure) or ``blazeface``.

    ``model_path``: the detector's file, made by ``export/yunet.py`` or ``export/blazeface.py``
    (default: the shipped one); ``min_face``: the width (pixels) of the smallest face to look for
    (None: the default of each detector).
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
        return YuNet(model_path or YUNET_FILE, threads=threads, min_face=min_face, checker=BlazeFace(threads=threads))
    except Exception as e:  # onnxruntime raises its own types for a file that is no model
        raise ValueError(f"cannot load detector model {model_path or ''}: {one_line(e, with_type=False)}") from None
