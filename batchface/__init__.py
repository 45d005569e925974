"""batchface: faces, facial keypoints and expressions for folders of photos and videos."""
import os

__version__ = "0.1.0"

# OpenCV reads this limit once, when it is first imported, and checks it against an image's header
# before it allocates any pixel: a file that declares more pixels (a decompression bomb) is refused.
# Pillow refuses above the same number by default. Set here, so it holds whatever module imports cv2.
MAX_IMAGE_PIXELS = 178_956_970
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))


def __getattr__(name):
    # lazy, so `import batchface` loads no model and no onnxruntime
    if name == "Analyzer":
        from batchface.analysis import Analyzer
        return Analyzer
    if name in ("run", "Options"):
        from batchface import runner
        return getattr(runner, name)
    raise AttributeError(name)


__all__ = ["Analyzer", "Options", "run", "__version__"]
