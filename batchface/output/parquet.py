"""Parquet outputs: a file joined from part files at the end of the run, or a folder of part files
(a dataset) left as they are."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from batchface.output.journal import fsync, parts_dir
from batchface.output.table_format import Table

#: rows a row group of a joined Parquet file holds: what readers skip or read at once; held in memory as
#: the file is joined (about 30 MB of the table's 60-odd columns)
ROW_GROUP_ROWS = 65536


class ParquetTable(Table):
    """Parquet: each write is a part file in ``<out>.parts/``; at the end the parts are joined into
    ``<out>.tmp`` (:meth:`join`), which is renamed ``<out>`` (:meth:`put_in_place`) once the journal
    says the join is whole, and only then are the parts removed (:meth:`clear`). So a kill at any
    step leaves one complete copy of the table: the parts, the joined file, or both.
    """

    extensions = ("parquet", "pq")

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        super().__init__(path, schema)
        self.parts = parts_dir(path)
        self.joined = path.with_name(path.name + ".tmp")
        self.count = 0

    def start(self, last: dict | None) -> None:
        """Ready to write: the part files written after ``last`` removed, and any temporary file.

        Args:
            last: ``{"part": name}`` of the last committed part; None: nothing written.
        """
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
        older batchface left when killed as it moved a finished output into them.

        Returns:
            ``{"part": name}`` of the last part.
        """
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
        """Write rows as the next part file, made durable then renamed into place.

        Args:
            rows: the rows, by column name; a missing column is null.

        Returns:
            ``{"part": name}`` of the part written.
        """
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
        """The joined file renamed over the output (nothing, when that was done already)."""
        if self.joined.exists():
            os.replace(self.joined, self.path)
            fsync(self.path.parent)

    def clear(self) -> None:
        """Remove the part files' folder."""
        shutil.rmtree(self.parts, ignore_errors=True)


class ParquetFolder(ParquetTable):
    """Parquet as a folder of part files (a dataset, as Ray and Spark write them): ``--out`` names a
    folder (ending in ``/``, or one that exists). The parts are written into it and stay there: no
    final join, which for a very large run is a second pass over everything."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        super().__init__(path, schema)
        self.parts = path

    def take_up(self) -> dict:
        """A finished folder keeps its parts; a resumed run writes after them.

        Returns:
            ``{"part": name}`` of the last part.
        """
        self.count = len(list(self.path.glob("part-*.parquet")))
        return {"part": f"part-{self.count - 1:06d}.parquet"}

    join, put_in_place, clear = Table.join, Table.put_in_place, Table.clear  # the parts are the table
