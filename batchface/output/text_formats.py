"""Text outputs appended in place: CSV and JSON Lines, to a file or to standard output."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys

from batchface.output.journal import fsync
from batchface.output.table import SOURCE
from batchface.output.table_format import Table


class TextTable(Table):
    """A text format appended in place; where a write leaves it is the file's length."""

    def start(self, last: dict | None) -> None:
        """Ready to write: the file cut back to ``last``, or started with its header alone.

        Args:
            last: ``{"offset": length}`` of the file after the last committed write; None: nothing written.
        """
        if last:
            with open(self.path, "r+b") as f:
                f.truncate(last["offset"])  # what was written after the last commit
        else:  # nothing committed: a torn header, perhaps, is written again
            self.path.write_text(self.header(), encoding="utf-8")
            fsync(self.path)

    def take_up(self) -> dict:
        """A finished file is appended to.

        Returns:
            ``{"offset": length}`` of the file.
        """
        return {"offset": self.path.stat().st_size}

    def write(self, rows: list[dict]) -> dict:
        """Append rows, durably.

        Args:
            rows: the rows, by column name; a missing column is null.

        Returns:
            ``{"offset": length}`` of the file after them.
        """
        with open(self.path, "a", encoding="utf-8", newline="") as f:
            f.write(self.text(rows))
            f.flush()
            os.fsync(f.fileno())
            return {"offset": f.tell()}

    def header(self) -> str:
        """What starts the file before any row.

        Returns:
            The header's lines (none: ``""``).
        """
        return ""

    def text(self, rows: list[dict]) -> str:
        """Rows as the format writes them.

        Args:
            rows: the rows, by column name; a missing column is null.

        Returns:
            Their lines, each ending in a newline.
        """
        raise NotImplementedError


#: what starts a formula in a spreadsheet's cell: a CSV cell that starts so is run when the file is opened
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def harmless(source: str | None) -> str | None:
    """A ``source`` for a CSV cell that a spreadsheet shows as text, never runs.

    A path that starts like a formula (a file named ``=1+1.jpg``, ``@SUM(1).jpg``; only a relative
    path can) is written ``./=1+1.jpg``, the same file, which pandas, DuckDB and ``--resume`` read.

    Args:
        source: a ``source`` column's value.

    Returns:
        The value for the cell.
    """
    return f"./{source}" if source and source.startswith(FORMULA_STARTS) else source


class CsvTable(TextTable):
    """CSV, RFC 4180: a header line of the column names, a line a row; ``source`` made harmless to
    spreadsheets (:func:`harmless`)."""

    extensions = ("csv",)

    def header(self) -> str:
        """The column names' line.

        Returns:
            The line.
        """
        return self.text([{n: n for n in self.schema.names}])

    def text(self, rows: list[dict]) -> str:
        """Rows as CSV lines, in the schema's column order.

        Args:
            rows: the rows, by column name; a missing column is empty.

        Returns:
            Their lines.
        """
        buffer = io.StringIO()
        plain = csv.DictWriter(buffer, fieldnames=self.schema.names, lineterminator="\n")
        # Python's csv quotes a field that holds the line terminator, "\n", but not a lone "\r", which
        # every reader takes for the end of a line: a row with one (a file name can) is quoted whole
        quoted = csv.DictWriter(buffer, fieldnames=self.schema.names, lineterminator="\n", quoting=csv.QUOTE_ALL)
        for row in rows:
            row = {**row, SOURCE: harmless(row.get(SOURCE))}
            (quoted if any(isinstance(v, str) and "\r" in v for v in row.values()) else plain).writerow(row)
        return buffer.getvalue()


class JsonlTable(TextTable):
    """JSON Lines: an object a row, every column in the schema's order, null where a row has no value."""

    extensions = ("jsonl", "ndjson")

    def text(self, rows: list[dict]) -> str:
        """Rows as JSON objects, a line each; NaN and infinities, which JSON lacks, are null.

        Args:
            rows: the rows, by column name.

        Returns:
            Their lines.
        """
        clean = lambda v: None if isinstance(v, float) and not math.isfinite(v) else v
        return "".join(
            json.dumps({k: clean(r.get(k)) for k in self.schema.names}, ensure_ascii=False) + "\n" for r in rows
        )


class Stdout(Table):
    """A text format written to standard output as it is committed (``--out -``): nothing to resume."""

    def __init__(self, table: TextTable) -> None:
        super().__init__(table.path, table.schema)
        self.table = table

    def start(self, last: dict | None) -> None:
        """Write the format's header.

        Args:
            last: ignored: a run to standard output starts anew.
        """
        sys.stdout.write(self.table.header())

    def write(self, rows: list[dict]) -> dict:
        """Write rows to standard output and flush it.

        Args:
            rows: the rows, by column name.

        Returns:
            ``{}``: nothing to resume from.
        """
        sys.stdout.write(self.table.text(rows))
        sys.stdout.flush()
        return {}
