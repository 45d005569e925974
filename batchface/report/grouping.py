"""Groups of rows in a sorted Arrow table, found with vectorised comparisons (no loop over rows)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def group_starts(table: pa.Table, keys: list[str]) -> np.ndarray:
    """Where each group of equal keys starts, in a table sorted by them (nulls equal to each other).

    Args:
        table: the table, sorted by ``keys``.
        keys: the columns that make a group.

    Returns:
        A boolean per row: True where a group starts.
    """
    starts = np.zeros(table.num_rows, dtype=bool)
    for key in keys:  # a row starts a group where any key differs from the row before it
        values = table[key].combine_chunks()
        same = pc.fill_null(pc.equal(values[1:], values[:-1]), False).to_numpy(zero_copy_only=False)
        both_null = pc.and_(pc.is_null(values[1:]), pc.is_null(values[:-1])).to_numpy(zero_copy_only=False)
        starts[1:] |= ~(same | both_null)
    if table.num_rows:
        starts[0] = True
    return starts


def first_per_group(table: pa.Table, keys: list[str], order: list[tuple[str, str]], k: int = 1) -> pa.Table:
    """The first rows of each group of equal keys, in an order.

    Args:
        table: the rows.
        keys: the columns that make a group.
        order: the order within a group (``Table.sort_by``'s sort keys: (column, ``ascending`` or ``descending``)).
        k: how many rows of each group.

    Returns:
        Those rows, sorted by the keys then ``order``.
    """
    table = table.sort_by([(key, "ascending") for key in keys] + order)
    index = np.arange(table.num_rows)
    rank = index - np.maximum.accumulate(np.where(group_starts(table, keys), index, 0))
    return table.filter(pa.array(rank < k, type=pa.bool_()))


def split_by(table: pa.Table, keys: list[str]) -> Iterator[tuple[tuple, pa.Table]]:
    """The groups of a table by keys, in the keys' order.

    Args:
        table: the rows.
        keys: the columns that make a group.

    Yields:
        (the keys' values, the group's rows, in the table's order within the group).
    """
    table = table.sort_by([(key, "ascending") for key in keys])
    bounds = [*np.flatnonzero(group_starts(table, keys)), table.num_rows]
    for start, stop in zip(bounds[:-1], bounds[1:]):
        rows = table.slice(start, stop - start)
        yield tuple(rows[key][0].as_py() for key in keys), rows
