"""Close-up faces made from the sample photos: a face that fills the frame, a face cut by the border.

Used by the tests and by ``tools/eval_detectors.py`` (``reports/detectors.md``). Boxes are (x, y, w, h)
in pixels, origin top-left.
"""

from __future__ import annotations

import cv2
import numpy as np


def filling_the_frame(image: np.ndarray, box, fill: float, side: int = 640) -> np.ndarray:
    """A ``side`` x ``side`` image in which the face of ``box`` spans ``fill`` of the width (its
    longer side does), centred, edges replicated beyond the photo."""
    x, y, w, h = box
    scale = side * fill / max(w, h)
    matrix = np.array([[scale, 0, side / 2 - scale * (x + w / 2)], [0, scale, side / 2 - scale * (y + h / 2)]])
    return cv2.warpAffine(image, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def cut_by_the_border(image: np.ndarray, box, kept: float) -> np.ndarray:
    """The photo cut so that its left edge runs through the face of ``box``: ``kept`` of the face's
    width stays in the picture, with a face height above and below and two face widths to the right."""
    x, y, w, h = (int(round(v)) for v in box)
    left = x + int(round(w * (1 - kept)))
    return image[max(0, y - h) : y + 2 * h, left : left + 3 * w].copy()
