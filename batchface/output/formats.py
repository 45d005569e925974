"""The output formats, one small class each: Parquet (a file joined from part files, or a folder of
them), CSV and JSON Lines (appended in place), and standard output; :func:`format_of` picks one.
Each writes rows and says where the table stood after a write, for the journal (:mod:`batchface.output.journal`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from batchface.output.journal import fsync, parts_dir
from batchface.vocabulary import Format

#: rows a row group of a joined Parquet file holds: what readers skip or read at once; held in memory as
#: the file is joined (about 30 MB of the table's 60-odd columns)
ROW_GROUP_ROWS = 65536


class Table:
    """What every format does once its last rows are written, the steps of :meth:`TableWriter.close`
    (:mod:`batchface.output.writers`): nothing, for a table written in place, which is whole as it is."""

    def join(self) -> None:
        """Make the finished table, beside the output where it is not the output itself."""

    def put_in_place(self) -> None:
        """The joined table becomes the output (nothing to do when it is already)."""

    def clear(self) -> None:
        """Remove what the run kept beside the output."""


class ParquetTable(Table):
    """Parquet: each write is a part file in ``<out>.parts/``; at the end the parts are joined into
    ``<out>.tmp`` (:meth:`join`), which is renamed ``<out>`` (:meth:`put_in_place`) once the journal
    says the join is whole, and only then are the parts removed (:meth:`clear`). So a kill at any
    step leaves one complete copy of the table: the parts, the joined file, or both.
    """

    extensions = ("parquet", "pq")

    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.schema, self.parts = path, schema, parts_dir(path)
        self.joined = path.with_name(path.name + ".tmp")
        self.count = 0

    def start(self, last: dict | None) -> None:
        """Ready to write after the write that left the table at ``last`` (None: nothing written)."""
        kept = {f"part-{i:06d}.parquet" for i in range(int(last["part"][5:11]) + 1)} if last else set()
        self.parts.mkdir(parents=True, exist_ok=True)
        for part in self.parts.iterdir():
            if part.name not in kept:
                part.unlink()  # written after the last commit, or a temporary file
        self.count = len(kept)
        self.joined.unlink(missing_ok=True)  # a join cut by a kill

    def take_up(self) -> dict:
        """A finished output becomes the first part of a resumed run; returns where that leaves it.

        The output stays where it is (a hard link, or a copy where links are not to be had) until the
        resumed run's join replaces it. Without an output, the parts are the finished table: what an
        older batchface left when killed as it moved a finished output into them."""
        if not self.path.exists():
            self.count = len(list(self.parts.glob("part-*.parquet")))
            return {"part": f"part-{self.count - 1:06d}.parquet"}
        # parts beside a finished output (a kill after its journal was removed, or before its take-up
        # was journalled) hold nothing that the output lacks
        shutil.rmtree(self.parts, ignore_errors=True)
        self.parts.mkdir()
        first = self.parts / "part-000000.parquet"
        try:
            os.link(self.path, first)
        except OSError:
            shutil.copyfile(self.path, first)
            fsync(first)
        fsync(self.parts)
        self.count = 1
        return {"part": first.name}

    def write(self, rows: list[dict]) -> dict:
        name = f"part-{self.count:06d}.parquet"
        temporary = self.parts / f".{name}.tmp"  # a leading dot hides it from readers of the folder
        pq.write_table(pa.Table.from_pylist(rows, schema=self.schema), temporary)
        fsync(temporary)
        os.replace(temporary, self.parts / name)
        self.count += 1
        return {"part": name}

    def join(self) -> None:
        """The parts joined into one file beside the output, made durable: in row groups of
        :data:`ROW_GROUP_ROWS`, however small the parts (a commit a row, ``--commit-seconds 0``, would
        otherwise leave a row group a commit, each with its own column headers and statistics)."""
        with pq.ParquetWriter(self.joined, self.schema) as writer:
            pending, rows = [], 0
            for part in sorted(self.parts.glob("part-*.parquet")):
                pending.append(pq.read_table(part, schema=self.schema))
                rows += pending[-1].num_rows
                if rows >= ROW_GROUP_ROWS:
                    table, full = pa.concat_tables(pending), rows - rows % ROW_GROUP_ROWS
                    writer.write_table(table.slice(0, full), row_group_size=ROW_GROUP_ROWS)
                    pending, rows = [table.slice(full)], rows - full
            if rows:
                writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
        fsync(self.joined)

    def put_in_place(self) -> None:
        if self.joined.exists():
            os.replace(self.joined, self.path)
            fsync(self.path.parent)

    def clear(self) -> None:
        shutil.rmtree(self.parts, ignore_errors=True)


class ParquetFolder(ParquetTable):
    """Parquet as a folder of part files (a dataset, as Ray and Spark write them): ``--out`` names a
    folder (ending in ``/``, or one that exists). The parts are written into it and stay there: no
    final join, which for a very large run is a second pass over everything."""

    def __init__(self, path: Path, schema: pa.Schema):
        super().__init__(path, schema)
        self.parts = path

    def take_up(self) -> dict:
        """A finished folder keeps its parts; a resumed run writes after them."""
        self.count = len(list(self.path.glob("part-*.parquet")))
        return {"part": f"part-{self.count - 1:06d}.parquet"}

    join, put_in_place, clear = Table.join, Table.put_in_place, Table.clear  # the parts are the table


def is_folder(path) -> bool:
    """Whether ``--out`` names a folder: a Parquet dataset of part files (:class:`ParquetFolder`)."""
    return str(path).endswith(("/", os.sep)) or Path(path).is_dir()


class TextTable(Table):
    """A text format appended in place; where a write leaves it is the file's length."""

    extensions: tuple = ()

    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.schema = path, schema

    def start(self, last: dict | None) -> None:
        if last:
            with open(self.path, "r+b") as f:
                f.truncate(last["offset"])  # what was written after the last commit
        else:  # nothing committed: a torn header, perhaps, is written again
            self.path.write_text(self.header(), encoding="utf-8")
            fsync(self.path)

    def take_up(self) -> dict:
        return {"offset": self.path.stat().st_size}

    def write(self, rows: list[dict]) -> dict:
        with open(self.path, "a", encoding="utf-8", newline="") as f:
            f.write(self.text(rows))
            f.flush()
            os.fsync(f.fileno())
            return {"offset": f.tell()}

    def header(self) -> str:
        return ""

    def text(self, rows: list[dict]) -> str:
        raise NotImplementedError


#: what starts a formula in a spreadsheet's cell: a CSV cell that starts so is run when the file is opened
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def harmless(source: str | None) -> str | None:
    """A ``source`` for a CSV cell: a path that starts like a formula (a file named ``=1+1.jpg``,
    ``@SUM(1).jpg``; only a relative path can) written ``./=1+1.jpg``, the same file, so that a
    spreadsheet shows it as text, while pandas, DuckDB and ``--resume`` read a path to that file."""
    return f"./{source}" if source and source.startswith(FORMULA_STARTS) else source


class CsvTable(TextTable):
    """CSV, RFC 4180: a header line of the column names, a line a row; ``source`` made harmless to
    spreadsheets (:func:`harmless`)."""

    extensions = ("csv",)

    def header(self) -> str:
        return self.text([{n: n for n in self.schema.names}])

    def text(self, rows: list[dict]) -> str:
        buffer = io.StringIO()
        plain = csv.DictWriter(buffer, fieldnames=self.schema.names, lineterminator="\n")
        # Python's csv quotes a field that holds the line terminator, "\n", but not a lone "\r", which
        # every reader takes for the end of a line: a row with one (a file name can) is quoted whole
        quoted = csv.DictWriter(buffer, fieldnames=self.schema.names, lineterminator="\n", quoting=csv.QUOTE_ALL)
        for row in rows:
            row = {**row, "source": harmless(row.get("source"))}
            (quoted if any(isinstance(v, str) and "\r" in v for v in row.values()) else plain).writerow(row)
        return buffer.getvalue()


class JsonlTable(TextTable):
    extensions = ("jsonl", "ndjson")

    def text(self, rows: list[dict]) -> str:
        # JSON has no NaN or infinity: those become null
        clean = lambda v: None if isinstance(v, float) and not math.isfinite(v) else v
        return "".join(
            json.dumps({k: clean(r.get(k)) for k in self.schema.names}, ensure_ascii=False) + "\n" for r in rows
        )


class Stdout(Table):
    """A text format written to standard output as it is committed (``--out -``): nothing to resume."""

    def __init__(self, table: TextTable):
        self.table = table

    def start(self, last: dict | None) -> None:
        sys.stdout.write(self.table.header())

    def write(self, rows: list[dict]) -> dict:
        sys.stdout.write(self.table.text(rows))
        sys.stdout.flush()
        return {}


FORMATS = {Format.parquet: ParquetTable, Format.csv: CsvTable, Format.jsonl: JsonlTable}
STDOUT = "-"  # an --out that means standard output


def format_of(path, fmt: str | None = None) -> str:
    """The output format: ``fmt`` if given, else from the extension of ``path``; a folder is Parquet;
    standard output (``-``) CSV unless ``fmt`` says JSON Lines."""
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
        return fmt or by_extension
    if ext == "json":
        raise ValueError(
            f"{Path(path).name!r}: batchface writes JSON Lines, one object a line, which is not one JSON value: "
            "name it .jsonl or .ndjson"
        )
    known = ", ".join(f".{e}" for table in FORMATS.values() for e in table.extensions)
    raise ValueError(
        f"cannot tell the format from {Path(path).name!r}: use --format {'|'.join(FORMATS)} or an extension {known}"
    )
