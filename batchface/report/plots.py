"""The page's plots, as PNG files a user can reuse: matplotlib's ``Figure`` (no pyplot, no window).

Each expression class has one colour throughout (:func:`color_of`). Times in seconds of video time,
probabilities 0-1.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from batchface.report.smoothing import centred_mean

COLORS = {
    "happy": "#e6a100",
    "neutral": "#7f7f7f",
    "sad": "#1f77b4",
    "surprise": "#17becf",
    "angry": "#d62728",
    "fear": "#9467bd",
    "disgust": "#2ca02c",
    "contempt": "#e377c2",
}
OTHERS = ["#8c564b", "#bcbd22", "#393b79", "#637939"]
DPI = 100
#: a timeline's time axis spans at least this many seconds: a track of a few frames is not stretched
SHORTEST_AXIS_S = 1.0


def color_of(emotion: str, classes: Sequence[str] = ()) -> str:
    """The colour of an expression class: its own for the shipped models' classes, else one of
    :data:`OTHERS` by its place in ``classes``.

    Args:
        emotion: the class.
        classes: the classes of the table, in their order.

    Returns:
        A ``#rrggbb`` colour.
    """
    if emotion in COLORS:
        return COLORS[emotion]
    place = list(classes).index(emotion) if emotion in classes else 0
    return OTHERS[place % len(OTHERS)]


def _save(figure: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)


def timeline(
    times_s: np.ndarray, probabilities: dict[str, np.ndarray], window_s: float, path: Path, title: str
) -> None:
    """Plot one track's expression over time: each class's probability at each sampled frame (dots)
    and its :func:`centred_mean` (line), over the track's own time, at least :data:`SHORTEST_AXIS_S`
    wide (the video's presence plot lines the tracks up).

    Args:
        times_s: the track's frames' times, seconds, ascending.
        probabilities: each class's probabilities at those times.
        window_s: the smoothing window, seconds.
        path: the PNG file.
        title: the plot's title.
    """
    figure = Figure(figsize=(8, 2.3), layout="constrained")
    axes = figure.add_subplot()
    classes = list(probabilities)
    for emotion, values in probabilities.items():
        color = color_of(emotion, classes)
        axes.scatter(times_s, values, s=8, color=color, alpha=0.5, linewidths=0)
        axes.plot(times_s, centred_mean(times_s, values, window_s), color=color, linewidth=1.8, label=emotion)
    axes.set(ylim=(-0.02, 1.02), xlabel="time in the video (s)", ylabel="probability", title=title)
    first, last = (float(times_s[0]), float(times_s[-1])) if len(times_s) else (0.0, 0.0)
    middle, half = (first + last) / 2, max(last - first, SHORTEST_AXIS_S) / 2 * 1.04
    axes.set_xlim(middle - half, middle + half)
    axes.grid(alpha=0.3)
    axes.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", frameon=False)
    _save(figure, path)


def presence(tracks: list[tuple[int, np.ndarray]], duration_s: float, path: Path, title: str) -> None:
    """Plot when each track is on screen: a tick at each sampled frame that has its face, a line a track.

    Args:
        tracks: (track_id, its frames' times in seconds) of each track, top to bottom.
        duration_s: the video's sampled length, seconds: the time axis.
        path: the PNG file.
        title: the plot's title.
    """
    figure = Figure(figsize=(8, 0.6 + 0.28 * max(1, len(tracks))), layout="constrained")
    axes = figure.add_subplot()
    if tracks:
        axes.eventplot([times for _, times in tracks], lineoffsets=range(len(tracks)), linelengths=0.7, colors="#2a7")
        axes.set_yticks(range(len(tracks)), [f"#{track_id}" for track_id, _ in tracks], fontsize="small")
        axes.invert_yaxis()
    axes.set(xlim=(0, max(duration_s, 1e-3)), xlabel="time in the video (s)", title=title)
    axes.grid(axis="x", alpha=0.3)
    _save(figure, path)


def distribution(counts: dict, path: Path, title: str) -> None:
    """Plot how many faces have each expression, as horizontal bars.

    Args:
        counts: faces by class, in the bars' order.
        path: the PNG file.
        title: the plot's title.
    """
    classes = list(counts)
    figure = Figure(figsize=(6, 0.8 + 0.32 * max(1, len(classes))), layout="constrained")
    axes = figure.add_subplot()
    bars = axes.barh(classes, [counts[c] for c in classes], color=[color_of(c, classes) for c in classes])
    axes.bar_label(bars, padding=3, fontsize="small")
    axes.invert_yaxis()
    axes.set(xlabel="faces", title=title)
    axes.margins(x=0.15)
    _save(figure, path)
