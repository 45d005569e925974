"""The two face models that batchface ships, one small class per ONNX file.

Everything a model needs to be run correctly (task, input size, normalisation, crop template,
keypoint names, classes) is read from the file's ``metadata_props``, never guessed from shapes.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import platform
from functools import cached_property
from pathlib import Path

import numpy as np

from batchface.vocabulary import Expression

ASSETS = Path(__file__).parents[1] / "assets"
KEYPOINTS_FILE = ASSETS / "keypoints.onnx"
#: the shipped expression files by the name ``--expression`` takes (each file's model card is beside it)
EXPRESSION_FILES = {
    Expression.ferplus: ASSETS / "expression-ferplus.onnx",
    Expression.fer2013: ASSETS / "expression-quick.onnx",
    Expression.fer2013_full: ASSETS / "expression.onnx",
}
#: the default: the one whose answers agree with people's on real faces (reports/expression-ferplus/report.md)
DEFAULT_EXPRESSION = Expression.ferplus
EXPRESSION_FILE = EXPRESSION_FILES[DEFAULT_EXPRESSION]


_FOR_METADATA = contextvars.ContextVar("for_metadata", default=False)


@contextlib.contextmanager
def opened_for_metadata():
    """Models opened within the block skip onnxruntime's graph optimizations: they open in a third of
    the time and run slower. For a caller that only reads and checks their metadata (a run's own
    process, whose workers open the models again)."""
    token = _FOR_METADATA.set(True)
    try:
        yield
    finally:
        _FOR_METADATA.reset(token)


def onnx_session(path, threads: int = 1):
    """An onnxruntime CPU session limited to ``threads`` threads (workers run one each).

    A shipped model is opened from its copy as onnxruntime optimized it on this machine
    (:func:`optimized_copy`), made and kept at its first opening: the same graph and answers, without
    the optimizing: the expression file opens in 0.05 s of CPU instead of 0.12."""
    import onnxruntime as ort

    def opened(file, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL, save_to=None):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.graph_optimization_level = level
        if save_to:
            options.optimized_model_filepath = str(save_to)
        return ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])

    if _FOR_METADATA.get():
        return opened(path, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    kept = optimized_copy(path)
    if kept is None:
        return opened(path)
    with contextlib.suppress(Exception):  # a copy that cannot be read is made again
        return opened(kept, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    temporary = kept.with_name(f".{kept.name}.{os.getpid()}.tmp")  # two workers may make it at once
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        session = opened(path, save_to=temporary)
        os.replace(temporary, kept)
        return session
    except Exception:  # a cache folder that cannot be written: the model, as it is
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        return opened(path)


def optimized_copy(path) -> Path | None:
    """Where the shipped model ``path`` is kept as onnxruntime optimizes it on this machine, None for
    another file or without a cache folder (``BATCHFACE_CACHE``, else the user's cache folder; set
    empty, none). The name holds the file's content, onnxruntime's version and this machine's CPU: the
    optimized graph is laid out for this CPU's vector width (onnxruntime's "offline" optimization)."""
    import onnxruntime as ort
    import platformdirs

    path = Path(path)
    folder = os.environ.get("BATCHFACE_CACHE", platformdirs.user_cache_dir("batchface"))
    if not folder or path.resolve().parent != ASSETS.resolve():
        return None
    return Path(folder) / "onnxruntime" / f"{path.stem}-{sha256_of(path)[:16]}-{ort.__version__}-{_this_cpu()}.onnx"


def _this_cpu() -> str:
    """A short name for what onnxruntime's optimized graphs depend on: this CPU's instruction sets."""
    try:
        with open("/proc/cpuinfo") as info:
            flags = next(line for line in info if line.startswith(("flags", "Features")))
    except (OSError, StopIteration):  # not Linux: this machine by name
        flags = platform.node()
    return hashlib.sha256(f"{platform.machine()} {flags}".encode()).hexdigest()[:12]


def sha256_of(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


INPUT_NORMALIZATION = "grayscale uint8 / 255, float32 in [0, 1]"


def to_unit(pixels) -> np.ndarray:
    """uint8 pixels as the face models read them (:data:`INPUT_NORMALIZATION`): float32 in [0, 1]."""
    return np.asarray(pixels, np.float32) / 255.0


class FaceModel:
    """An ONNX model that reads a [N, S, S, 1] float32 crop batch in [0, 1] named ``image``."""

    task = ""

    def __init__(self, path, threads: int = 1):
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
        return sha256_of(self.path)

    def _run(self, crops: np.ndarray) -> np.ndarray:
        """``crops``: uint8 [N, S, S] grayscale."""
        return self.session.run(None, {"image": to_unit(crops)[..., None]})[0]

    def describe(self) -> dict:
        """What ``batchface models`` prints about this model: its name, file, path, sha256 and input,
        then its metadata by key in alphabetical order, each value typed (numbers, lists and objects
        as such; the file stores them as text)."""
        facts = {
            "name": self.task,
            "file": self.path.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "input": f"image float32 [N,{self.input_size},{self.input_size},1] in [0,1]",
        }
        for key in sorted(set(self.metadata) - {"batchface_task", "crop_template"}):
            facts[key] = _typed(self.metadata[key])
        return facts


def _typed(text: str):
    """A metadata value as what it says: a number, list, object or boolean, else the text itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (int, float, list, dict, bool)) else text


class KeypointModel(FaceModel):
    """Facial keypoints: crops -> [N, K, 2] positions (x, y) in crop pixels."""

    task = "keypoints"

    def __init__(self, path=KEYPOINTS_FILE, threads: int = 1):
        super().__init__(path, threads)
        self.names = tuple(json.loads(self.metadata["keypoint_names"]))

    def predict(self, crops: np.ndarray) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros((0, len(self.names), 2), np.float32)
        return self._run(crops).reshape(len(crops), len(self.names), 2)


class ExpressionModel(FaceModel):
    """Facial expression: crops -> [N, C] class probabilities, in the order of ``classes``."""

    task = "expression"

    def __init__(self, path=EXPRESSION_FILE, threads: int = 1):
        super().__init__(path, threads)
        self.classes = tuple(json.loads(self.metadata["classes"]))

    def predict(self, crops: np.ndarray) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        return self._run(crops)
