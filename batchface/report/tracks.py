"""The per-track table: one row per face track of a video (``source``, ``track_id``).

Grouped by Arrow's compute functions (``Table.group_by``), not by Python loops over rows: a table
of a million rows takes under a second. Times in seconds of the video, boxes in pixels.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from batchface.output.table import EMOTION, FRAME_INDEX, SOURCE, STATUS, TIMESTAMP_S, TRACK_ID
from batchface.report.grouping import first_per_group
from batchface.report.results import conform
from batchface.vocabulary import Status

KEYS = [SOURCE, TRACK_ID]


def classes_of(table: pa.Table) -> list[str]:
    """The expression classes of a table.

    Args:
        table: the rows.

    Returns:
        The classes of its ``p_<class>`` columns, in their order.
    """
    return [name[2:] for name in table.column_names if name.startswith("p_")]


def track_rows(table: pa.Table) -> pa.Table:
    """The rows of faces in tracks: video rows with status ``ok`` and a ``track_id``.

    Args:
        table: the rows.

    Returns:
        Those rows.
    """
    keep = pc.and_(pc.equal(table[STATUS], Status.ok.value), pc.is_valid(table[TRACK_ID]))
    return table.filter(pc.fill_null(keep, False))


def tracks(table: pa.Table) -> pa.Table:
    """The per-track table: one row per (``source``, ``track_id``), sorted by them.

    The README's "The per-track table" lists the columns. Only faces of videos (rows with status
    ``ok`` and a ``track_id``) count.

    Args:
        table: a table ``batchface run`` wrote.

    Returns:
        The per-track table.
    """
    table = conform(table)
    rows = track_rows(table)
    classes = classes_of(table)
    stats = rows.group_by(KEYS).aggregate(
        [
            (FRAME_INDEX, "min"),
            (FRAME_INDEX, "max"),
            (TIMESTAMP_S, "min"),
            (TIMESTAMP_S, "max"),
            (FRAME_INDEX, "count"),
            ("box_w", "mean"),
            ("box_h", "mean"),
            ("det_score", "mean"),
            *[(f"p_{c}", how) for c in classes for how in ("mean", "max")],
        ]
    )
    renamed = {
        "frame_index_min": "first_frame_index",
        "frame_index_max": "last_frame_index",
        "timestamp_s_min": "first_s",
        "timestamp_s_max": "last_s",
        "frame_index_count": "frames",
    }
    stats = stats.rename_columns([renamed.get(n, n) for n in stats.column_names])
    stats = stats.append_column("duration_s", pc.subtract(stats["last_s"], stats["first_s"]))
    joined = stats.join(_dominant(rows), KEYS).join(_best(rows), KEYS)
    columns = [
        *KEYS,
        "first_frame_index",
        "last_frame_index",
        "first_s",
        "last_s",
        "duration_s",
        "frames",
        "box_w_mean",
        "box_h_mean",
        "det_score_mean",
        *[f"p_{c}_{how}" for c in classes for how in ("mean", "max")],
        "dominant_emotion",
        "dominant_share",
        "best_frame_index",
        "best_s",
        "best_box_x",
        "best_box_y",
        "best_box_w",
        "best_box_h",
        "best_det_score",
    ]
    return joined.select(columns).sort_by([(key, "ascending") for key in KEYS])


def _dominant(rows: pa.Table) -> pa.Table:
    """Each track's most frequent ``emotion`` (ties: the first by name) and the share of its frames
    that have it."""
    counts = rows.group_by([*KEYS, EMOTION]).aggregate([(FRAME_INDEX, "count")])
    totals = counts.group_by(KEYS).aggregate([("frame_index_count", "sum")])
    top = first_per_group(counts, KEYS, [("frame_index_count", "descending"), (EMOTION, "ascending")])
    top = top.join(totals, KEYS)
    share = pc.divide(pc.cast(top["frame_index_count"], pa.float64()), top["frame_index_count_sum"])
    return pa.table({SOURCE: top[SOURCE], TRACK_ID: top[TRACK_ID], "dominant_emotion": top[EMOTION]}).append_column(
        "dominant_share", share
    )


def _best(rows: pa.Table) -> pa.Table:
    """Each track's best frame: its highest detector score (ties: the earliest frame), and the box there."""
    best = first_per_group(rows, KEYS, [("det_score", "descending"), (FRAME_INDEX, "ascending")])
    names = {FRAME_INDEX: "best_frame_index", TIMESTAMP_S: "best_s", "det_score": "best_det_score"}
    names.update({f"box_{a}": f"best_box_{a}" for a in "xywh"})
    return pa.table({new: best[old] for old, new in names.items()} | {k: best[k] for k in KEYS})
