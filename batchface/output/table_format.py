"""What an output format does (:class:`Table`), the steps the writer (:mod:`batchface.output.writers`)
takes with every one of them: start, write rows, take up a finished output, join, put in place, clear."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa


class Table:
    """An output table at ``path`` with the columns of ``schema``: what every format does.

    Once its last rows are written come the steps of :meth:`batchface.output.writers.TableWriter.close`:
    nothing, for a table written in place, which is whole as it is.
    """

    #: the file name extensions of the format, without the dot
    extensions: tuple[str, ...] = ()

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path, self.schema = path, schema

    def start(self, last: dict | None) -> None:
        """Ready to write after the write that left the table at ``last``.

        Args:
            last: where the last committed write left the table (:meth:`write`); None: nothing written.
        """
        raise NotImplementedError

    def take_up(self) -> dict:
        """A finished output becomes the start of a resumed run.

        Returns:
            Where that leaves the table, as :meth:`write` says it.
        """
        raise NotImplementedError

    def write(self, rows: list[dict]) -> dict:
        """Write rows, durably (fsynced).

        Args:
            rows: the rows, by column name; a missing column is null.

        Returns:
            Where the table stands after the write, for the journal (a part file, or a length).
        """
        raise NotImplementedError

    def join(self) -> None:
        """Make the finished table, beside the output where it is not the output itself."""

    def put_in_place(self) -> None:
        """The joined table becomes the output (nothing to do when it is already)."""

    def clear(self) -> None:
        """Remove what the run kept beside the output."""
