"""Head pose from the 68 facial keypoints: a 3D mean face fitted to them by perspective-n-point.

Angles are the subject's, in degrees, zero for a face looking straight into the camera:

- ``yaw``: positive when the subject turns to their own left (their nose towards the image's right);
- ``pitch``: positive when the subject looks up;
- ``roll``: positive when the head tilts towards the subject's left shoulder (clockwise in the image).

The head's rotation ``R`` (head frame -> camera frame, OpenCV's camera: x right, y down, z forward)
is read as ``R = Rz(roll) @ Ry(-yaw) @ Rx(-pitch)``: roll last, in the image's plane, so an image
turned in its plane changes roll alone. The camera is guessed from the image: a focal length of the
image's larger side in pixels (a field of view of about 53 degrees across it), the principal point
at the image's centre, no lens distortion. The mean face (``assets/mean_face_68.csv``) comes from
``training/mean_face.py``. Published landmark-and-PnP methods of this kind score about 9-16 degrees
mean absolute error on AFLW2000 (e.g. Ruiz et al. 2018, Hopenet, table 1); learned head-pose
networks 4-6.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from batchface.faces.landmarks import IBUG68_NAMES

MEAN_FACE_FILE = Path(__file__).parents[1] / "assets" / "mean_face_68.csv"


@cache
def mean_face() -> np.ndarray:
    """The 3D mean face that :func:`head_pose` fits.

    Returns:
        [68, 3] in millimetres, iBUG order, head frame (x to the subject's left, y down, z away from
        the camera).
    """
    return np.loadtxt(MEAN_FACE_FILE, delimiter=",", skiprows=3, dtype=np.float64)


def camera(width: float, height: float) -> np.ndarray:
    """The guessed camera of an image.

    Args:
        width: the image's width, pixels.
        height: the image's height, pixels.

    Returns:
        The 3x3 camera matrix, pixels.
    """
    focal = float(max(width, height))
    return np.array([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]])


def angles_of(rotation: np.ndarray) -> tuple[float, float, float]:
    """The angles of a head's rotation (see the module's text).

    Args:
        rotation: 3x3, head frame to camera frame.

    Returns:
        (yaw, pitch, roll) in degrees.
    """
    r = rotation
    about_x = np.arctan2(r[2, 1], r[2, 2])
    about_y = np.arctan2(-r[2, 0], np.hypot(r[2, 1], r[2, 2]))
    about_z = np.arctan2(r[1, 0], r[0, 0])
    return float(np.degrees(-about_y)), float(np.degrees(-about_x)), float(np.degrees(about_z))


def head_pose(points: np.ndarray, width: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    """The pose of each face from its 68 iBUG keypoints.

    Args:
        points: [F, 68, 2] keypoints in image pixels (origin top-left, x before y).
        width: the image's width in pixels (for the guessed camera).
        height: the image's height in pixels.

    Returns:
        (angles [F, 3] as yaw, pitch, roll in degrees; error [F]: the mean distance between the
        keypoints and the fitted face's points, divided by the distance between the eye centres:
        large where the keypoints fit no head, as on a profile beyond the keypoint model's range, a
        hand or another false face).
    """
    points = np.asarray(points, np.float64).reshape(-1, 68, 2)
    model, k = mean_face(), camera(width, height)
    angles, errors = np.zeros((len(points), 3)), np.zeros(len(points))
    for i, image_points in enumerate(points):
        # SQPnP: the global optimum of the reprojection error, where the iterative solver may stop short of it
        ok, rvec, tvec = cv2.solvePnP(model, image_points, k, None, flags=cv2.SOLVEPNP_SQPNP)
        if not ok:
            angles[i], errors[i] = np.nan, np.nan
            continue
        angles[i] = angles_of(cv2.Rodrigues(rvec)[0])
        fitted = cv2.projectPoints(model, rvec, tvec, k, None)[0].reshape(68, 2)
        eyes = np.linalg.norm(image_points[42:48].mean(0) - image_points[36:42].mean(0))
        errors[i] = np.linalg.norm(fitted - image_points, axis=1).mean() / max(eyes, 1e-6)
    return angles, errors


def has_pose(names: Sequence[str]) -> bool:
    """Whether a keypoint model's points are those :func:`head_pose` fits.

    Args:
        names: the points' names.

    Returns:
        True for the iBUG 68, in order.
    """
    return tuple(names) == IBUG68_NAMES
