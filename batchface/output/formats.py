"""The output formats, one small class each: Parquet (a file joined from part files, or a folder of
them: :mod:`batchface.output.parquet`), CSV and JSON Lines (appended in place) and standard output
(:mod:`batchface.output.text_formats`); :func:`format_of` picks one. Each writes rows and says where
the table stood after a write, for the journal (:mod:`batchface.output.journal`); what they all do
is :class:`batchface.output.table_format.Table`.
"""

from __future__ import annotations

import os
from pathlib import Path

from batchface.output.parquet import ParquetFolder, ParquetTable
from batchface.output.table_format import Table
from batchface.output.text_formats import CsvTable, JsonlTable, Stdout, TextTable
from batchface.vocabulary import Format

__all__ = [
    "FORMATS",
    "STDOUT",
    "CsvTable",
    "JsonlTable",
    "ParquetFolder",
    "ParquetTable",
    "Stdout",
    "Table",
    "TextTable",
    "format_of",
    "is_folder",
]


def is_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``--out`` names a folder: a Parquet dataset of part files (:class:`ParquetFolder`).

    Args:
        path: the output, as given (a trailing ``/`` names a folder that need not exist).

    Returns:
        True for a folder.
    """
    return str(path).endswith(("/", os.sep)) or Path(path).is_dir()


FORMATS: dict[str, type[Table]] = {Format.parquet: ParquetTable, Format.csv: CsvTable, Format.jsonl: JsonlTable}
STDOUT = "-"  # an --out that means standard output


def format_of(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """The output format: ``fmt`` if given, else from the extension of ``path``.

    Args:
        path: the output; a folder is Parquet, standard output (``-``) CSV unless ``fmt`` says JSON Lines.
        fmt: the format asked for (``--format``), or None.

    Returns:
        ``parquet``, ``csv`` or ``jsonl``.

    Raises:
        ValueError: the format is unknown, does not match ``path``, or cannot be told from it.
    """
    if fmt and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if str(path) == STDOUT:
        if fmt == "parquet":
            raise ValueError("standard output (--out -) takes csv or jsonl, not parquet")
        return fmt or "csv"
    if is_folder(path):
        if fmt not in (None, "parquet"):
            raise ValueError(f"{path} is a folder: a folder output is Parquet (part files), not {fmt}")
        return "parquet"
    ext = Path(path).suffix.lower().lstrip(".")
    by_extension = next((name for name, table in FORMATS.items() if ext in table.extensions), None)
    if fmt and by_extension and fmt != by_extension:
        raise ValueError(f"--format {fmt} does not match {Path(path).name!r}, a {by_extension} file name")
    if fmt or by_extension:
        return fmt or by_extension or ""
    if ext == "json":
        raise ValueError(
            f"{Path(path).name!r}: batchface writes JSON Lines, one object a line, which is not one JSON value: "
            "name it .jsonl or .ndjson"
        )
    known = ", ".join(f".{e}" for table in FORMATS.values() for e in table.extensions)
    raise ValueError(
        f"cannot tell the format from {Path(path).name!r}: use --format {'|'.join(FORMATS)} or an extension {known}"
    )
