"""ONNX sessions with onnxruntime, on the CPU: how every network of the package is opened.

A shipped file is opened from its copy as onnxruntime optimized it on this machine, kept in a cache
folder (:func:`optimized_copy`); a detector's file is checked to be what its export script made
(:func:`detector_session`).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import platform
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # onnxruntime is imported when a model is opened
    import onnxruntime

ASSETS = Path(__file__).parents[1] / "assets"


_FOR_METADATA = contextvars.ContextVar("for_metadata", default=False)


@contextlib.contextmanager
def opened_for_metadata() -> Iterator[None]:
    """Models opened within the block skip onnxruntime's graph optimizations: they open in a third of
    the time and run slower. For a caller that only reads and checks their metadata (a run's own
    process, whose workers open the models again).

    Yields:
        Nothing; the block runs with the optimizations off.
    """
    token = _FOR_METADATA.set(True)
    try:
        yield
    finally:
        _FOR_METADATA.reset(token)


def onnx_session(path: str | os.PathLike, threads: int = 1) -> onnxruntime.InferenceSession:
    """An onnxruntime CPU session of a model.

    A shipped model is opened from its copy as onnxruntime optimized it on this machine
    (:func:`optimized_copy`), made and kept at its first opening: the same graph and answers, without
    the optimizing: the expression file opens in 0.05 s of CPU instead of 0.12.

    Args:
        path: the ONNX file.
        threads: the most threads it runs on (workers run one each).

    Returns:
        The session.
    """
    import onnxruntime as ort

    def opened(
        file: str | os.PathLike,
        level: ort.GraphOptimizationLevel = ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        save_to: Path | None = None,
    ) -> ort.InferenceSession:
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


def optimized_copy(path: str | os.PathLike) -> Path | None:
    """Where a shipped model is kept as onnxruntime optimizes it on this machine.

    The name holds the file's content, onnxruntime's version and this machine's CPU: the optimized
    graph is laid out for this CPU's vector width (onnxruntime's "offline" optimization).

    Args:
        path: the model's file.

    Returns:
        The copy's path in the cache folder (``BATCHFACE_CACHE``, else the user's cache folder);
        None for a file that is not shipped, or where ``BATCHFACE_CACHE`` is set empty.
    """
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


def sha256_of(path: str | os.PathLike) -> str:
    """A file's SHA-256.

    Args:
        path: the file.

    Returns:
        Its SHA-256, 64 hexadecimal digits.
    """
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def detector_session(
    path: Path, threads: int, normalization: str, made_by: str
) -> tuple[onnxruntime.InferenceSession, dict[str, str]]:
    """A face detector's session, its file checked to be what its export script made.

    Args:
        path: the ONNX file.
        threads: the most threads it runs on.
        normalization: the input the detector's code feeds it (the file's ``input_normalization``).
        made_by: the export script, for the error's message.

    Returns:
        The session and the file's metadata.

    Raises:
        ValueError: the file's metadata names another task or another input.
    """
    session = onnx_session(path, threads)
    meta = dict(session.get_modelmeta().custom_metadata_map)
    if (meta.get("batchface_task"), meta.get("input_normalization")) != ("face_detection", normalization):
        raise ValueError(
            f"{path}: not a face detector made by {made_by} (its metadata says "
            f"task {meta.get('batchface_task')!r}, input {meta.get('input_normalization')!r})"
        )
    return session, meta
