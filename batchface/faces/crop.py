"""The canonical face crop: one rule, used by training and by the runtime.

A crop is defined by three alignment points of a face, in image pixels with the origin at the
top-left corner and x before y: the centre of the eye on the image's left (the subject's right
eye), the centre of the eye on the image's right (the subject's left eye) and the centre of the
mouth. A similarity transform (rotation, uniform scale, translation; no shear, no mirror) maps
them, in the least-squares sense, onto a fixed template, so every detector gives the same crop
and every face comes out upright.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Template positions of (image-left eye, image-right eye, mouth centre) as fractions of the crop
#: side. Calibrated on FER2013 itself (``training/calibrate_template.py``: YuNet on 2,927 training
#: images upscaled 4x gave mean eyes at (0.310, 0.373) and (0.673, 0.376) and mouth at
#: (0.495, 0.749)), symmetrised, so run-time crops are framed like the FER images.
TEMPLATE = np.array([[0.318, 0.375], [0.682, 0.375], [0.500, 0.750]], dtype=np.float64)


def alignment_matrix(points, size: int, template=TEMPLATE) -> np.ndarray:
    """The 2x3 similarity that maps ``points`` (3x2, image pixels) onto ``template * size``.

    Least squares over the three points (Umeyama's closed form without reflection). Apply it
    with :func:`cut`; invert it with :func:`to_image`.
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
    """Warp ``image`` with ``matrix`` into a ``size`` x ``size`` crop (bilinear, edges replicated)."""
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def for_reduced(matrix: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """``matrix`` (from full-image pixels) for the image reduced ``sx`` times in width and ``sy`` in
    height: a reduced pixel's centre x' lies at ``sx * x' + (sx - 1) / 2`` of the full image."""
    if sx == sy == 1.0:
        return matrix
    offset = matrix @ [(sx - 1) / 2, (sy - 1) / 2, 1.0]
    return np.hstack([matrix[:, :2] * [sx, sy], offset[:, None]])


def gray(crop_bgr: np.ndarray) -> np.ndarray:
    """A crop in grayscale (as the face models read it); one already gray is returned as it is."""
    return crop_bgr if crop_bgr.ndim == 2 else cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)


def to_crop(points, matrix: np.ndarray) -> np.ndarray:
    """Map Nx2 image-pixel points into crop pixels."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def to_image(points, matrix: np.ndarray) -> np.ndarray:
    """Map Nx2 crop-pixel points back into image pixels (inverse of :func:`to_crop`)."""
    return to_image_all(np.reshape(points, (1, -1, 2)), np.reshape(matrix, (1, 2, 3)))[0]


def to_image_all(points: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """:func:`to_image` for many crops at once: points [F, N, 2] in the crop pixels of each of the F
    matrices [F, 2, 3] -> [F, N, 2] image pixels (float64)."""
    m = np.asarray(matrices, np.float64).reshape(-1, 2, 3)
    return np.einsum("fij,fnj->fni", np.linalg.inv(m[:, :, :2]), np.asarray(points, np.float64) - m[:, None, :, 2])
