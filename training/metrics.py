"""Evaluation measures in plain numpy (no scikit-learn needed)."""

from __future__ import annotations

import numpy as np


def confusion(labels, predicted, n_classes: int) -> np.ndarray:
    """Counts [true class, predicted class]."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(labels), np.asarray(predicted)), 1)
    return m


def per_class(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class from a confusion matrix."""
    tp = np.diag(matrix).astype(float)
    precision = np.divide(tp, matrix.sum(0), out=np.zeros_like(tp), where=matrix.sum(0) > 0)
    recall = np.divide(tp, matrix.sum(1), out=np.zeros_like(tp), where=matrix.sum(1) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=(precision + recall) > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": matrix.sum(1)}


def nme(predicted, truth, left_outer: int, right_outer: int) -> np.ndarray:
    """Mean point error of each face divided by its outer-eye-corner distance ([N, K, 2] -> [N])."""
    norm = np.linalg.norm(truth[:, left_outer] - truth[:, right_outer], axis=-1)
    return np.linalg.norm(predicted - truth, axis=-1).mean(-1) / norm


def rmse(predicted, truth) -> float:
    """Root mean squared coordinate error, Kaggle's leaderboard measure (in the points' units)."""
    return float(np.sqrt(np.mean((np.asarray(predicted) - np.asarray(truth)) ** 2)))


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % for z = 1.96): (low, high), shares in [0, 1].

    Chosen over the normal approximation because the in-the-wild classes are small (tens of faces)
    and their recalls near 1, where that approximation runs past 1.
    """
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))
