"""The two face models that batchface ships, one small class per ONNX file (opened as
:mod:`batchface.faces.sessions` opens every network).

Everything a model needs to be run correctly (task, input size, normalisation, crop template,
keypoint names, classes) is read from the file's ``metadata_props``, never guessed from shapes.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from batchface.faces.sessions import ASSETS, onnx_session, opened_for_metadata, optimized_copy, sha256_of
from batchface.vocabulary import Expression

# the sessions' functions too, where the export scripts, the runner and the CLI have found them
__all__ = ["ASSETS", "onnx_session", "opened_for_metadata", "optimized_copy", "sha256_of"]
__all__ += ["DEFAULT_EXPRESSION", "EXPRESSION_FILE", "EXPRESSION_FILES", "INPUT_NORMALIZATION", "KEYPOINTS_FILE"]
__all__ += ["ExpressionModel", "FaceModel", "KeypointModel", "to_unit"]

KEYPOINTS_FILE = ASSETS / "keypoints.onnx"
#: the shipped expression files by the name ``--expression`` takes (each file's model card is beside it)
EXPRESSION_FILES: dict[str, Path] = {  # Expression members are str
    Expression.ferplus: ASSETS / "expression-ferplus.onnx",
    Expression.fer2013: ASSETS / "expression-quick.onnx",
    Expression.fer2013_full: ASSETS / "expression.onnx",
}
#: the default: the one whose answers agree with people's on real faces (reports/expression-ferplus/report.md)
DEFAULT_EXPRESSION = Expression.ferplus
EXPRESSION_FILE = EXPRESSION_FILES[DEFAULT_EXPRESSION]


INPUT_NORMALIZATION = "grayscale uint8 / 255, float32 in [0, 1]"


def to_unit(pixels: np.ndarray) -> np.ndarray:
    """Pixels as the face models read them (:data:`INPUT_NORMALIZATION`).

    Args:
        pixels: uint8, any shape.

    Returns:
        float32 in [0, 1], the same shape.
    """
    return np.asarray(pixels, np.float32) / 255.0


class FaceModel:
    """An ONNX model that reads a [N, S, S, 1] float32 crop batch in [0, 1] named ``image``.

    Args:
        path: the ONNX file.
        threads: the most onnxruntime threads it runs on.

    Raises:
        ValueError: the file is not a batchface model of this task, or reads other pixels.
    """

    task = ""

    def __init__(self, path: str | os.PathLike, threads: int = 1) -> None:
        self.path = Path(path)
        self.session = onnx_session(self.path, threads)
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        if self.metadata.get("batchface_task") != self.task:
            raise ValueError(
                f"{self.path}: not a batchface {self.task} model "
                f"(metadata batchface_task = {self.metadata.get('batchface_task')!r})"
            )
        # the one input scaling this runtime implements; a model that wants another is refused
        if self.metadata.get("input_normalization") != INPUT_NORMALIZATION:
            raise ValueError(
                f"{self.path}: input_normalization {self.metadata.get('input_normalization')!r} "
                f"is not {INPUT_NORMALIZATION!r}"
            )
        self.input_size = int(self.metadata["input_size"])
        self.template = np.array(json.loads(self.metadata["crop_template"]), dtype=np.float64)
        #: the distance of the eyes in the crop (pixels)
        self.eye_distance = float(np.linalg.norm(self.template[1] - self.template[0]) * self.input_size)

    @cached_property
    def sha256(self) -> str:
        """The model file's SHA-256, 64 hexadecimal digits."""
        return sha256_of(self.path)

    def _run(self, crops: np.ndarray) -> np.ndarray:
        """``crops``: uint8 [N, S, S] grayscale."""
        return self.session.run(None, {"image": to_unit(crops)[..., None]})[0]

    def describe(self) -> dict[str, Any]:  # JSON's values, typed as the metadata says
        """What ``batchface models`` prints about this model.

        Returns:
            Its name, file, path, sha256 and input, then its metadata by key in alphabetical order,
            each value typed (numbers, lists and objects as such; the file stores them as text).
        """
        facts: dict[str, Any] = {
            "name": self.task,
            "file": self.path.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "input": f"image float32 [N,{self.input_size},{self.input_size},1] in [0,1]",
        }
        for key in sorted(set(self.metadata) - {"batchface_task", "crop_template"}):
            facts[key] = _typed(self.metadata[key])
        return facts


def _typed(text: str) -> object:
    """A metadata value as what it says: a number, list, object or boolean, else the text itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (int, float, list, dict, bool)) else text


class KeypointModel(FaceModel):
    """Facial keypoints: crops -> [N, K, 2] positions (x, y) in crop pixels.

    Args:
        path: the ONNX file (default: the shipped one).
        threads: the most onnxruntime threads it runs on.

    Raises:
        ValueError: the file is not a batchface keypoint model.
    """

    task = "keypoints"

    def __init__(self, path: str | os.PathLike = KEYPOINTS_FILE, threads: int = 1) -> None:
        super().__init__(path, threads)
        self.names = tuple(json.loads(self.metadata["keypoint_names"]))

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """The keypoints of faces.

        Args:
            crops: [N, S, S] uint8 grayscale crops (:mod:`batchface.faces.crop`).

        Returns:
            [N, K, 2] float32 positions (x, y) in crop pixels, in the order of ``names``.
        """
        if len(crops) == 0:
            return np.zeros((0, len(self.names), 2), np.float32)
        return self._run(crops).reshape(len(crops), len(self.names), 2)


class ExpressionModel(FaceModel):
    """Facial expression: crops -> [N, C] class probabilities, in the order of ``classes``.

    Args:
        path: the ONNX file (default: the shipped default, :data:`DEFAULT_EXPRESSION`).
        threads: the most onnxruntime threads it runs on.

    Raises:
        ValueError: the file is not a batchface expression model.
    """

    task = "expression"

    def __init__(self, path: str | os.PathLike = EXPRESSION_FILE, threads: int = 1) -> None:
        super().__init__(path, threads)
        self.classes = tuple(json.loads(self.metadata["classes"]))

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """The expressions of faces.

        Args:
            crops: [N, S, S] uint8 grayscale crops (:mod:`batchface.faces.crop`).

        Returns:
            [N, C] float32 class probabilities, in the order of ``classes``.
        """
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        return self._run(crops)
