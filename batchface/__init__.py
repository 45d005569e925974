"""batchface: faces, facial keypoints and expressions for folders of photos and videos."""

from typing import TYPE_CHECKING

__version__ = "0.1.0"

#: An image whose header declares more pixels is refused before it is decoded (a decompression
#: bomb): Pillow's own limit, read from the header (:mod:`batchface.media.decoding`).
MAX_IMAGE_PIXELS = 178_956_970

if TYPE_CHECKING:  # the names' own types, for a type checker; run time imports each as it is first asked for
    from batchface.engine.ray_engine import FaceRows
    from batchface.engine.runner import Options, run
    from batchface.faces.analysis import Analyzer
    from batchface.media.decoding import read_image
    from batchface.report.tracks import tracks


def __getattr__(name: str) -> object:
    """The package's documented names, each imported as it is first asked for.

    Lazy, so that ``import batchface`` loads no model and no onnxruntime.

    Args:
        name: one of ``__all__``.

    Returns:
        What the name stands for.

    Raises:
        AttributeError: another name.
    """
    if name == "Analyzer":
        from batchface.faces.analysis import Analyzer

        return Analyzer
    if name in ("run", "Options"):
        from batchface.engine import runner

        return getattr(runner, name)
    if name == "read_image":
        from batchface.media.decoding import read_image

        return read_image
    if name == "tracks":  # the per-track table of a results table: pyarrow only
        from batchface.report.tracks import tracks

        return tracks
    if name == "FaceRows":  # needs the `ray` extra
        from batchface.engine.ray_engine import FaceRows

        return FaceRows
    raise AttributeError(name)


__all__ = ["Analyzer", "FaceRows", "Options", "read_image", "run", "tracks", "__version__"]
