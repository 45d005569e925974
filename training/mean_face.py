"""Derive the 3D mean face of the iBUG 68 points that :mod:`batchface.faces.pose` fits, from 2D keypoints.

    python -m training.mean_face --data ../shared/data/keypoints/udacity_p1 --out batchface/assets/mean_face_68.csv

Tomasi and Kanade's factorization (1992) under scaled orthography: the keypoints of every labelled
face of the set (both CSVs: 3,638 faces of 297 people, frames of YouTube videos at many head
turns), each centred and scaled to unit spread, stacked into a [2F, 68] matrix whose best rank-3
approximation is F views of one rigid shape; the metric upgrade (each view's two rows orthogonal
and of one length) fixes that shape up to a rotation and a mirror. The shape is then turned into
the head's frame (x along the eyes towards the subject's left, y down towards the chin, z away
from the camera, so the nose tip has the smallest z), its mirror ambiguity settled by the nose
pointing at the camera, made left-right symmetric (each point averaged with its mirror partner),
and scaled to 63 mm between the eye centres (the mean adult interpupillary distance, Dodgson 2004).
Faces' shapes and expressions differ from person to person: what the fit leaves is their mean.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from training.data import read_ibug_csv

#: each iBUG point's mirror partner (the subject's left and right swapped)
MIRROR = (
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65]
)
EYE_DISTANCE_MM = 63.0  # between the eye centres


def read_points(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 68 keypoints [F, 68, 2] of every row of the set's two CSVs (image pixels, x before y), and
    each frame's (width, height) [F, 2] in pixels."""
    points, sizes = [], []
    for split in ("training", "test"):
        images, found, _ = read_ibug_csv(folder / f"{split}_frames_keypoints.csv", folder / split)
        points.append(found.astype(np.float64))
        sizes += [image.shape[1::-1] for image in images]
    return np.concatenate(points), np.array(sizes, dtype=np.float64)


def factorize(points: np.ndarray) -> np.ndarray:
    """One rigid 3D shape [68, 3] whose scaled orthographic views best give ``points`` [F, 68, 2]."""
    p = points - points.mean(1, keepdims=True)
    p /= np.sqrt((p**2).sum((1, 2), keepdims=True) / p.shape[1])
    views = np.concatenate([p[:, :, 0], p[:, :, 1]])  # all x rows, then all y rows
    u, s, vt = np.linalg.svd(views, full_matrices=False)
    motion, shape = u[:, :3] * s[:3], vt[:3]
    n = len(p)

    def quadratic(a, b):  # a @ L @ b for the symmetric L's six unknowns
        return np.array(
            [a[0] * b[0], a[0] * b[1] + a[1] * b[0], a[0] * b[2] + a[2] * b[0], a[1] * b[1],
             a[1] * b[2] + a[2] * b[1], a[2] * b[2]]
        )  # fmt: skip

    rows = [quadratic(motion[i], motion[i]) - quadratic(motion[n + i], motion[n + i]) for i in range(n)]
    rows += [quadratic(motion[i], motion[n + i]) for i in range(n)]
    rows.append(quadratic(motion[0], motion[0]))
    target = np.zeros(len(rows))
    target[-1] = 1.0
    l6 = np.linalg.lstsq(np.array(rows), target, rcond=None)[0]
    gram = np.array([[l6[0], l6[1], l6[2]], [l6[1], l6[3], l6[4]], [l6[2], l6[4], l6[5]]])
    w, v = np.linalg.eigh(gram)
    upgrade = v @ np.diag(np.sqrt(np.maximum(w, 1e-12)))
    return (np.linalg.inv(upgrade) @ shape).T


def in_head_frame(shape: np.ndarray) -> np.ndarray:
    """``shape`` turned into the head's frame, symmetric, in millimetres (see the module's text)."""
    right_eye, left_eye = shape[36:42].mean(0), shape[42:48].mean(0)
    x = (left_eye - right_eye) / np.linalg.norm(left_eye - right_eye)
    down = (shape[48] + shape[54]) / 2 - (right_eye + left_eye) / 2
    y = down - x * (down @ x)
    y /= np.linalg.norm(y)
    turned = (shape - shape.mean(0)) @ np.stack([x, y, np.cross(x, y)]).T
    if turned[30, 2] > turned[36:48, 2].mean():  # the mirror image: the nose tip must face the camera
        turned[:, 2] *= -1
    symmetric = (turned + turned[MIRROR] * [-1, 1, 1]) / 2
    symmetric *= EYE_DISTANCE_MM / np.linalg.norm(symmetric[42:48].mean(0) - symmetric[36:42].mean(0))
    return symmetric - [0, *symmetric[[36, 39, 42, 45], 1:].mean(0)]  # origin between the eye corners


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="the keypoint set's folder (its two CSVs)")
    p.add_argument("--out", required=True, help="CSV: x, y, z in millimetres, one iBUG point a row")
    args = p.parse_args(argv)
    points, _ = read_points(Path(args.data))
    shape = in_head_frame(factorize(points))
    with open(args.out, "w", newline="") as f:
        f.write("# 3D mean face of the iBUG 68 points, mm; head frame: x to the subject's left, y down, z away\n")
        f.write(f"# from the camera; python -m training.mean_face on {len(points)} faces of the Udacity keypoint set\n")
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["x", "y", "z"])
        writer.writerows([[f"{v:.2f}" for v in row] for row in shape])
    print(f"{args.out}: {len(points)} faces; nose tip {shape[30].round(1)}, chin {shape[8].round(1)} mm")


if __name__ == "__main__":
    main()
