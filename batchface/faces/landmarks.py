"""Facial keypoint names and the derivation of Kaggle's 15 keypoints from the iBUG 68.

"Left" and "right" are the subject's: the subject's left eye is on the image's right, as in
Kaggle's "Facial Keypoints Detection".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Kaggle "Facial Keypoints Detection" keypoints, in the order of its columns.
KAGGLE_NAMES = (
    "left_eye_center",
    "right_eye_center",
    "left_eye_inner_corner",
    "left_eye_outer_corner",
    "right_eye_inner_corner",
    "right_eye_outer_corner",
    "left_eyebrow_inner_end",
    "left_eyebrow_outer_end",
    "right_eyebrow_inner_end",
    "right_eyebrow_outer_end",
    "nose_tip",
    "mouth_left_corner",
    "mouth_right_corner",
    "mouth_center_top_lip",
    "mouth_center_bottom_lip",
)

#: The 68 iBUG/300-W points in their standard order (0-16 jaw, 17-21 and 22-26 brows, 27-35
#: nose, 36-41 and 42-47 eyes, 48-67 mouth).
IBUG68_NAMES = tuple(
    [f"jaw_{i:02d}" for i in range(17)]
    + [f"right_eyebrow_{i}" for i in range(5)]
    + [f"left_eyebrow_{i}" for i in range(5)]
    + [f"nose_bridge_{i}" for i in range(4)]
    + [f"nose_lower_{i}" for i in range(5)]
    + [f"right_eye_{i}" for i in range(6)]
    + [f"left_eye_{i}" for i in range(6)]
    + [f"mouth_outer_{i:02d}" for i in range(12)]
    + [f"mouth_inner_{i}" for i in range(8)]
)

#: Each Kaggle keypoint as the mean of these iBUG points (``shared/data/SOURCES.md``, section 3).
KAGGLE_FROM_IBUG68 = {
    "left_eye_center": [f"left_eye_{i}" for i in range(6)],
    "right_eye_center": [f"right_eye_{i}" for i in range(6)],
    "left_eye_inner_corner": ["left_eye_0"],
    "left_eye_outer_corner": ["left_eye_3"],
    "right_eye_inner_corner": ["right_eye_3"],
    "right_eye_outer_corner": ["right_eye_0"],
    "left_eyebrow_inner_end": ["left_eyebrow_0"],
    "left_eyebrow_outer_end": ["left_eyebrow_4"],
    "right_eyebrow_inner_end": ["right_eyebrow_4"],
    "right_eyebrow_outer_end": ["right_eyebrow_0"],
    "nose_tip": ["nose_bridge_3"],
    "mouth_left_corner": ["mouth_outer_06"],
    "mouth_right_corner": ["mouth_outer_00"],
    "mouth_center_top_lip": ["mouth_outer_03"],
    "mouth_center_bottom_lip": ["mouth_outer_09"],
}


def kaggle_keypoints(points: np.ndarray, names: Sequence[str]) -> np.ndarray | None:
    """The 15 Kaggle keypoints from named points.

    A model that predicts the Kaggle names directly is read as is; one that predicts the iBUG 68
    is mapped.

    Args:
        points: [..., K, 2] points (x, y), any unit.
        names: the K points' names.

    Returns:
        [..., 15, 2] in :data:`KAGGLE_NAMES`' order, the unit of ``points``; None for another set of names.
    """
    points = np.asarray(points)
    index = {n: i for i, n in enumerate(names)}
    if all(n in index for n in KAGGLE_NAMES):
        return points[..., [index[n] for n in KAGGLE_NAMES], :]
    if all(n in index for group in KAGGLE_FROM_IBUG68.values() for n in group):
        return np.stack(
            [points[..., [index[n] for n in KAGGLE_FROM_IBUG68[k]], :].mean(-2) for k in KAGGLE_NAMES], axis=-2
        )
    return None


def alignment_points(points: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The points that :mod:`batchface.faces.crop` aligns, from named landmarks.

    For the iBUG 68 the mouth centre is the midpoint of the mouth corners, which is what the
    detectors' mouth points give.

    Args:
        points: [..., K, 2] landmarks (x, y), any unit.
        names: the K landmarks' names.

    Returns:
        [..., 3, 2]: the image-left eye centre, the image-right eye centre and the mouth centre.

    Raises:
        ValueError: the landmarks do not include the eyes and mouth corners.
    """
    k = kaggle_keypoints(points, names)
    if k is None:
        raise ValueError("these landmarks do not include the eyes and mouth corners")
    i = KAGGLE_NAMES.index
    mouth = (k[..., i("mouth_left_corner"), :] + k[..., i("mouth_right_corner"), :]) / 2
    return np.stack([k[..., i("right_eye_center"), :], k[..., i("left_eye_center"), :], mouth], -2)
