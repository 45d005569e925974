"""The smoothed line of a track's timeline: a centred moving mean over a window of video time."""

from __future__ import annotations

import numpy as np

#: the window of ``batchface report --smooth``'s default, in seconds of video time
WINDOW_S = 1.0


def centred_mean(times_s: np.ndarray, values: np.ndarray, window_s: float = WINDOW_S) -> np.ndarray:
    """A centred moving mean over a window of time.

    Points are weighted alike however the frames were sampled, and a gap in a track is not bridged
    beyond half the window.

    Args:
        times_s: the values' times, seconds, ascending.
        values: the values.
        window_s: the window, seconds; 0 gives the values back.

    Returns:
        At each time, the mean of the values whose times are within ``window_s / 2`` of it, both
        ends included.
    """
    times_s, values = np.asarray(times_s, dtype=float), np.asarray(values, dtype=float)
    low = np.searchsorted(times_s, times_s - window_s / 2, side="left")
    high = np.searchsorted(times_s, times_s + window_s / 2, side="right")
    sums = np.concatenate([[0.0], np.cumsum(values)])
    return (sums[high] - sums[low]) / (high - low)
