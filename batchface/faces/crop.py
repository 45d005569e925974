"""The canonical face crop: one rule, used by training and by the runtime.

A crop is defined by three alignment points of a face, in image pixels with the origin at the
top-left corner and x before y: the centre of the eye on the image's left (the subject's right
eye), the centre of the eye on the image's right (the subject's left eye) and the centre of the
mouth. A similarity transform (rotation, uniform scale, translation; no shear, no mirror) maps
them, in the least-squares sense, onto a fixed template, so every detector gives the same crop
and every face comes out upright.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

#: points as a caller has them: an array, or nested sequences of x, y (pixels)
Points = np.ndarray | Sequence[Sequence[float]]

#: Template positions of (image-left eye, image-right eye, mouth centre) as fractions of the crop
#: side. Calibrated on FER2013 itself (``training/calibrate_template.py``: YuNet on 2,927 training
#: images upscaled 4x gave mean eyes at (0.310, 0.373) and (0.673, 0.376) and mouth at
#: (0.495, 0.749)), symmetrised, so run-time crops are framed like the FER images.
TEMPLATE = np.array([[0.318, 0.375], [0.682, 0.375], [0.500, 0.750]], dtype=np.float64)


def alignment_matrix(points: Points, size: int, template: np.ndarray = TEMPLATE) -> np.ndarray:
    """The similarity that maps a face's alignment points onto the template of a crop.

    Least squares over the three points (Umeyama's closed form without reflection). Apply it
    with :func:`cut`; invert it with :func:`to_image`.

    Args:
        points: [3, 2] the alignment points, image pixels.
        size: the crop's side, pixels.
        template: [3, 2] where the points go, fractions of the crop's side.

    Returns:
        The 2x3 matrix from image pixels to crop pixels.

    Raises:
        ValueError: the points coincide.
    """
    src = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(template, dtype=np.float64).reshape(-1, 2) * size
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    s, d = src - src_mean, dst - dst_mean
    # For a similarity x' = [[a, -b], [b, a]] x + t the least-squares a, b have this closed form.
    norm = (s**2).sum()
    if norm <= 1e-12:
        raise ValueError("alignment points coincide")
    a = (s * d).sum() / norm
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / norm
    rot = np.array([[a, -b], [b, a]])
    t = dst_mean - rot @ src_mean
    return np.hstack([rot, t[:, None]])


def cut(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Cut a crop out of an image (bilinear, edges replicated).

    Args:
        image: the image, [H, W] or [H, W, C].
        matrix: 2x3, from image pixels to crop pixels.
        size: the crop's side, pixels.

    Returns:
        The crop, [size, size] or [size, size, C], the image's dtype.
    """
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def for_reduced(matrix: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """A crop's matrix for the image decoded reduced: a reduced pixel's centre x' lies at
    ``sx * x' + (sx - 1) / 2`` of the full image.

    Args:
        matrix: 2x3, from full-image pixels to crop pixels.
        sx: how many times narrower the reduced image is.
        sy: how many times less tall.

    Returns:
        The 2x3 matrix from the reduced image's pixels to crop pixels.
    """
    if sx == sy == 1.0:
        return matrix
    offset = matrix @ [(sx - 1) / 2, (sy - 1) / 2, 1.0]
    return np.hstack([matrix[:, :2] * [sx, sy], offset[:, None]])


def gray(crop_bgr: np.ndarray) -> np.ndarray:
    """A crop in grayscale, as the face models read it.

    Args:
        crop_bgr: [S, S, 3] BGR, or [S, S] already gray.

    Returns:
        [S, S], the same dtype (one already gray as it is).
    """
    return crop_bgr if crop_bgr.ndim == 2 else cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)


def to_crop(points: Points, matrix: np.ndarray) -> np.ndarray:
    """Map points of the image into a crop.

    Args:
        points: [N, 2] image pixels.
        matrix: 2x3, from image pixels to crop pixels.

    Returns:
        [N, 2] crop pixels, float64.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def to_image(points: Points, matrix: np.ndarray) -> np.ndarray:
    """Map points of a crop back into the image (the inverse of :func:`to_crop`).

    Args:
        points: [N, 2] crop pixels.
        matrix: 2x3, from image pixels to crop pixels.

    Returns:
        [N, 2] image pixels, float64.
    """
    return to_image_all(np.reshape(points, (1, -1, 2)), np.reshape(matrix, (1, 2, 3)))[0]


def to_image_all(points: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """:func:`to_image` for many crops at once.

    Args:
        points: [F, N, 2] the points of each of F crops, its pixels.
        matrices: [F, 2, 3] each crop's matrix, from image pixels to crop pixels.

    Returns:
        [F, N, 2] image pixels, float64.
    """
    m = np.asarray(matrices, np.float64).reshape(-1, 2, 3)
    return np.einsum("fij,fnj->fni", np.linalg.inv(m[:, :, :2]), np.asarray(points, np.float64) - m[:, None, :, 2])
