"""Writing the table (in a format of :mod:`batchface.output.formats`), committing it a whole input at a time.

While a run is going, committed rows are on disk and readable: a CSV or JSONL output grows in place;
a Parquet output is kept as complete part files in ``<out>.parts/`` (readable as a dataset) and
joined into ``<out>`` when the run ends. :mod:`batchface.output.journal` records each write; with it a
resumed run drops anything written after the last commit, so the finished table has exactly the rows
of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from batchface.output.formats import FORMATS, STDOUT, ParquetFolder, Stdout, Table, TextTable, format_of, is_folder
from batchface.output.journal import Journal, from_text, parts_dir, whole
from batchface.output.table import SOURCE, STATUS
from batchface.vocabulary import Status


def check_writable(path: str | os.PathLike[str]) -> None:
    """Refuse, before any work, an output that cannot be written; a missing folder for it is made.

    Args:
        path: the output (a file, or a folder of part files).

    Raises:
        ValueError: naming the path and the cause.
    """
    folder = Path(path) if is_folder(path) else Path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise ValueError(f"cannot write the output {path}: {e.strerror or e} ({folder})") from None


class TableWriter:
    """Writes rows of one schema to ``path`` in ``fmt``, committing whole keys (inputs, or pieces of
    a video: :mod:`batchface.output.journal`).

    Rows are made durable (written, fsynced, journalled) every ``commit_seconds`` or 2,000 rows.
    ``resume=True`` continues a killed (or finished) run at ``path`` (:func:`open_table`); otherwise
    ``path`` and its journal must not exist. ``table_schema``: the columns; ``metadata``: what shapes
    the rows (models, options), kept in a Parquet table's schema and checked by a resume.
    :attr:`done` holds the keys already committed, :attr:`failed` those of them with an ``error`` row.
    """

    flush_rows = 2000

    def __init__(
        self,
        path: str | os.PathLike[str],
        fmt: str,
        table_schema: pa.Schema,
        metadata: dict | None = None,
        resume: bool = False,
        commit_seconds: float = 2.0,
    ) -> None:
        to_stdout, folder, out = str(path) == STDOUT, is_folder(path), Path(path)
        schema = table_schema.with_metadata({"batchface": json.dumps(metadata)}) if metadata else table_schema
        table = (ParquetFolder if folder else FORMATS[fmt])(out, schema)
        # what must not change between a run and its --resume: the columns and what shapes the rows
        identity = {
            "columns": table_schema.names,
            **{k: v for k, v in (metadata or {}).items() if k != "batchface_version"},
        }
        self.commit_seconds = commit_seconds
        self._pending: list[tuple[tuple, list[dict]]] = []
        self._pending_tracks: dict[str, dict] = {}
        self._pending_rows, self._last_flush = 0, time.monotonic()
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        if not to_stdout:
            self.table: Table = table
            self.journal = Journal(out, identity)
            open_table(self.table, self.journal, out, fmt, resume)
            return
        # the journal of a run that cannot be resumed: only to keep the rows' order and counts
        if resume:
            raise ValueError("a run to standard output (--out -) cannot be resumed")
        if not isinstance(table, TextTable):
            raise ValueError("standard output (--out -) takes csv or jsonl, not parquet")
        self._scratch = tempfile.TemporaryDirectory(prefix="batchface-")
        self.table, self.journal = Stdout(table), Journal(Path(self._scratch.name) / "stdout", identity)
        self.table.start(None)
        self.journal.start()

    @property
    def done(self) -> list[tuple]:
        """The keys committed, in order (those of a resumed run's first part included)."""
        return self.journal.done

    @property
    def failed(self) -> list[tuple]:
        """The keys of :attr:`done` with an ``error`` row."""
        return self.journal.failed

    def commit(self, key: tuple, rows: list[dict], tracks: dict | None = None) -> None:
        """Add the complete rows of one key; written out in batches (:meth:`flush`).

        Args:
            key: the input or piece of a video the rows are all of (:mod:`batchface.output.journal`).
            rows: its rows, by column name.
            tracks: for a piece of a video that goes on, the state of its face tracks after it,
                journalled with it.
        """
        self._pending.append((key, rows))
        if tracks is not None:
            self._pending_tracks[key[0]] = tracks
        self._pending_rows += len(rows)
        if self._pending_rows >= self.flush_rows or time.monotonic() - self._last_flush >= self.commit_seconds:
            self.flush()

    def flush(self) -> None:
        """Write pending rows, make them durable, then record their keys in the journal."""
        if self._pending:
            where = self.table.write([row for _, rows in self._pending for row in rows])
            self.journal.record(
                [key for key, _ in self._pending],
                [key for key, rows in self._pending if any(r.get(STATUS) == Status.error for r in rows)],
                where,
                self._pending_tracks,
            )
        self._pending, self._pending_rows, self._last_flush = [], 0, time.monotonic()
        self._pending_tracks = {}

    def close(self, finished: bool = True) -> None:
        """Flush; when ``finished``, make the final table and remove the journal.

        In an order that leaves one whole copy of the table after a kill at any step, which
        ``resume`` recognises: the table is joined beside the output (Parquet), the journal says so,
        the joined file is renamed into place, the journal is removed, then the parts.

        Args:
            finished: the run went through its inputs (False: interrupted; the journal is kept for a resume).
        """
        self.flush()
        if finished:
            self.table.join()
            self.journal.record_joined()
            _clear_up(self.table, self.journal)
        else:
            self.journal.close()
        if self._scratch is not None:
            self._scratch.cleanup()


def open_table(table: Table, journal: Journal, path: Path, fmt: str, resume: bool) -> None:
    """Make a table and its journal ready for a run's first write: a new output, or a resumed one.

    A resumed output is a killed run's (its journal recovered, what it wrote after its last commit
    dropped), one killed as it finished (put in place, then taken up as a finished output), a
    finished output (:func:`take_up_finished`), or a Parquet output killed before its first journal.

    Args:
        table: the output's format, at ``path``.
        journal: the output's journal.
        path: the output.
        fmt: its format's name.
        resume: finish or extend what is at ``path``; otherwise nothing may be there.

    Raises:
        FileExistsError: ``path`` or its journal exists, and ``resume`` is False.
        ValueError: the output to resume was written with other columns or settings.
    """
    if resume and journal.exists():
        journal.recover()
        if journal.joined:  # killed as it finished, its table whole: what was left, then a finished output
            _clear_up(table, journal)
            take_up_finished(table, journal, path, fmt)
        else:
            table.start(journal.last)
    elif resume and (path.exists() or any(parts_dir(path).glob("part-*.parquet"))):
        take_up_finished(table, journal, path, fmt)
    elif resume and not path.exists() and parts_dir(path).is_dir():  # killed before its first journal
        shutil.rmtree(parts_dir(path))
        table.start(None)
        journal.start()
    elif (path.exists() and not _empty_folder(path)) or journal.exists() or parts_dir(path).exists():
        raise FileExistsError(
            f"{path} exists: pass resume=True (--resume) to finish that run, or overwrite=True (--overwrite) "
            "to start again"
        )
    else:
        table.start(None)
        journal.start()


def take_up_finished(table: Table, journal: Journal, path: Path, fmt: str) -> None:
    """A finished output: its sources are done; new sources are appended to it.

    A Parquet output found only as its parts (moved there by an older batchface, killed) is taken up
    from them.

    Args:
        table: the output's format, at ``path``.
        journal: the output's journal, written anew.
        path: the output.
        fmt: its format's name.

    Raises:
        ValueError: the output was written with other columns or settings.
    """
    found = read_table(path if path.exists() else parts_dir(path), fmt)
    stored = (found.schema.metadata or {}).get(b"batchface")
    if stored:
        journal.check_same_run(
            {
                "columns": found.schema.names,
                **{k: v for k, v in json.loads(stored).items() if k != "batchface_version"},
            }
        )
    elif found.num_columns and found.schema.names != table.schema.names:
        # CSV and JSONL keep no metadata: the columns are all that can be checked
        raise ValueError(
            f"--resume of {path}: its columns differ from this run's (--landmarks, or another expression model?)"
        )
    rows = found.select([SOURCE, STATUS]).to_pylist() if found.num_columns else []
    done = list(dict.fromkeys(whole(from_text(r[SOURCE])) for r in rows))
    failed = list(dict.fromkeys(whole(from_text(r[SOURCE])) for r in rows if r[STATUS] == Status.error))
    journal.start([{"keys": done, "failed": failed, **table.take_up()}] if done else [])
    if not done:
        table.start(None)


def _clear_up(table: Table, journal: Journal) -> None:
    """After the journal's ``joined``: the joined table put in place, the journal and parts removed."""
    table.put_in_place()
    journal.close(remove=True)
    table.clear()


def _empty_folder(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def read_table(path: str | os.PathLike[str], fmt: str | None = None) -> pa.Table:
    """Read a batchface output back as an Arrow table.

    Args:
        path: a Parquet file or folder of part files, a CSV or a JSONL file.
        fmt: its format, if its name does not say (:func:`batchface.output.formats.format_of`).

    Returns:
        Its rows, text columns as text (a ``source`` named ``123`` stays a string), in the file's column order.

    Raises:
        ValueError: the format cannot be told.
    """
    fmt = format_of(path, fmt)
    if fmt == "parquet":
        return pq.read_table(path)
    from batchface.output.table import schema

    # text columns stay text: a source named "123" must not come back as a number
    text = {f.name: f.type for f in schema(()) if f.type == pa.string()}
    if fmt == "csv":
        import pyarrow.csv as pcsv

        return pcsv.read_csv(
            path,
            parse_options=pcsv.ParseOptions(newlines_in_values=True),  # a file name may hold one, quoted
            convert_options=pcsv.ConvertOptions(strings_can_be_null=True, column_types=text),
        )
    import pyarrow.json as pjson

    with open(path, encoding="utf-8") as f:
        head = json.loads(f.readline() or "{}")
    if not head:
        return pa.table({})  # no row: a run with nothing to analyse
    explicit = pa.schema([(k, t) for k, t in text.items() if k in head])
    table = pjson.read_json(path, parse_options=pjson.ParseOptions(explicit_schema=explicit))
    return table.select([k for k in head if k in table.column_names])  # the file's column order
