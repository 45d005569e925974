"""Reading the tables that ``batchface run`` wrote, and what a run did, from them.

A table is a Parquet file or dataset folder, a CSV or a JSONL file
(:func:`batchface.output.writers.read_table`); several are read as one. Provenance (models,
options) is in a Parquet table's schema metadata; CSV and JSONL keep none.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from batchface.output.table import ERROR, FRAME_INDEX, MEDIA_TYPE, SOURCE, STATUS, schema
from batchface.output.writers import read_table
from batchface.vocabulary import MediaType, Status


@dataclass
class Results:
    """The rows of every table read (:attr:`table`), and per table read its path and provenance
    (the ``batchface`` schema metadata: version, detector, models' sha256, options; None for CSV
    and JSONL)."""

    table: pa.Table
    provenance: list[tuple[str, dict | None]] = field(default_factory=list)


def read_results(paths: Sequence[str | os.PathLike[str]]) -> Results:
    """Read tables as one.

    Args:
        paths: the tables (:func:`batchface.output.writers.read_table`).

    Returns:
        Their rows, with the main table's columns (:func:`conform`), and each one's provenance.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: a path is not a table batchface writes.
    """
    tables, provenance = [], []
    for path in paths:
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        table = read_table(path)
        if table.num_columns and SOURCE not in table.column_names:
            raise ValueError(f"{path}: not a batchface table (it has no '{SOURCE}' column)")
        stored = (table.schema.metadata or {}).get(b"batchface")
        provenance.append((str(path), json.loads(stored) if stored else None))
        tables.append(table.replace_schema_metadata(None))
    return Results(conform(pa.concat_tables([conform(t) for t in tables], promote_options="permissive")), provenance)


def conform(table: pa.Table) -> pa.Table:
    """A table with the main table's columns and types (:func:`batchface.output.table.schema`, with
    its own ``p_<class>`` columns).

    A CSV or JSONL column that held only nulls, or a table without rows, read back with other types
    or none, is made so; other columns (``lm_*``) are kept.

    Args:
        table: a table read back.

    Returns:
        The table conformed.
    """
    classes = [name[2:] for name in table.column_names if name.startswith("p_")]
    for column in schema(classes):
        if column.name not in table.column_names:
            table = table.append_column(column, pa.nulls(table.num_rows, column.type))
        elif table.schema.field(column.name).type != column.type:
            index = table.column_names.index(column.name)
            table = table.set_column(index, column, table[column.name].cast(column.type))
    return table


@dataclass
class RunSummary:
    """What the tables hold: inputs (``images``, ``videos``), sampled ``frames`` (distinct source
    and frame), ``faces`` (rows ``ok``), ``no_face`` frames, and the inputs or frames that failed:
    ``errors``, (source, frame_index or None, message) in the table's order."""

    inputs: int
    images: int
    videos: int
    frames: int
    faces: int
    no_face: int
    errors: list[tuple[str, int | None, str]]


def count_where(table: pa.Table, column: str, value: str) -> int:
    """How many rows have a value in a column.

    Args:
        table: the rows.
        column: the column (a table without it counts 0).
        value: the value.

    Returns:
        The count.
    """
    return int(pc.sum(pc.equal(table[column], value)).as_py() or 0) if column in table.column_names else 0


def summarize(table: pa.Table) -> RunSummary:
    """What a table holds, counted with Arrow's compute functions.

    Args:
        table: the rows of the tables read (:func:`read_results`).

    Returns:
        Its :class:`RunSummary`.
    """
    if table.num_rows == 0:
        return RunSummary(0, 0, 0, 0, 0, 0, [])
    kinds = table.group_by([SOURCE, MEDIA_TYPE]).aggregate([])
    frames = table.filter(pc.not_equal(table[STATUS], Status.error.value)).group_by([SOURCE, FRAME_INDEX]).aggregate([])
    failed = table.filter(pc.equal(table[STATUS], Status.error.value)).select([SOURCE, FRAME_INDEX, ERROR]).to_pylist()
    return RunSummary(
        inputs=kinds.num_rows,
        images=count_where(kinds, MEDIA_TYPE, MediaType.image.value),
        videos=count_where(kinds, MEDIA_TYPE, MediaType.video.value),
        frames=frames.num_rows,
        faces=count_where(table, STATUS, Status.ok.value),
        no_face=count_where(table, STATUS, Status.no_face.value),
        errors=[(r[SOURCE], r[FRAME_INDEX], r[ERROR] or "") for r in failed],
    )
