"""Writing the table (in a format of :mod:`batchface.output.formats`), committing it a whole input at a time.

While a run is going, committed rows are on disk and readable: a CSV or JSONL output grows in place;
a Parquet output is kept as complete part files in ``<out>.parts/`` (readable as a dataset) and
joined into ``<out>`` when the run ends. :mod:`batchface.output.journal` records each write; with it a
resumed run drops anything written after the last commit, so the finished table has exactly the rows
of an uninterrupted run.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from batchface.output.formats import FORMATS, STDOUT, ParquetFolder, Stdout, format_of, is_folder
from batchface.output.journal import Journal, from_text, parts_dir, whole


def check_writable(path) -> None:
    """Refuse, before any work, an output that cannot be written: ValueError naming the path and the
    cause. A missing folder for it is made."""
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
    ``resume=True`` continues a killed (or finished) run at ``path``; otherwise ``path`` and its
    journal must not exist. :attr:`done` holds the keys already committed, :attr:`failed` those of
    them with an ``error`` row.
    """

    flush_rows = 2000

    def __init__(
        self,
        path,
        fmt: str,
        table_schema: pa.Schema,
        metadata: dict | None = None,
        resume: bool = False,
        commit_seconds: float = 2.0,
    ):
        to_stdout, folder, path = str(path) == STDOUT, is_folder(path), Path(path)
        schema = table_schema.with_metadata({"batchface": json.dumps(metadata)}) if metadata else table_schema
        self.table = (ParquetFolder if folder else FORMATS[fmt])(path, schema)
        self._scratch = None
        # what must not change between a run and its --resume: the columns and what shapes the rows
        identity = {
            "columns": table_schema.names,
            **{k: v for k, v in (metadata or {}).items() if k != "batchface_version"},
        }
        self.journal = Journal(path, identity)
        self.commit_seconds = commit_seconds
        self._pending: list[tuple[tuple, list[dict]]] = []
        self._pending_tracks: dict[str, dict] = {}
        self._pending_rows, self._last_flush = 0, time.monotonic()
        if to_stdout:  # the journal of a run that cannot be resumed: only to keep the rows' order and counts
            if resume:
                raise ValueError("a run to standard output (--out -) cannot be resumed")
            self.table = Stdout(self.table)
            self._scratch = tempfile.TemporaryDirectory(prefix="batchface-")
            self.journal = Journal(Path(self._scratch.name) / "stdout", identity)
            self.table.start(None)
            self.journal.start()
        elif resume and self.journal.exists():
            self.journal.recover()
            if self.journal.joined:  # killed as it finished, its table whole: what was left, then a finished output
                self._clear_up()
                self._take_up_finished(path, fmt)
            else:
                self.table.start(self.journal.last)
        elif resume and (path.exists() or any(parts_dir(path).glob("part-*.parquet"))):
            self._take_up_finished(path, fmt)
        elif resume and not path.exists() and parts_dir(path).is_dir():  # killed before its first journal
            shutil.rmtree(parts_dir(path))
            self.table.start(None)
            self.journal.start()
        elif (path.exists() and not _empty_folder(path)) or self.journal.exists() or parts_dir(path).exists():
            raise FileExistsError(
                f"{path} exists: pass resume=True (--resume) to finish that run, or overwrite=True (--overwrite) "
                "to start again"
            )
        else:
            self.table.start(None)
            self.journal.start()

    @property
    def done(self) -> list[tuple]:
        return self.journal.done

    @property
    def failed(self) -> list[tuple]:
        return self.journal.failed

    def _take_up_finished(self, path: Path, fmt: str) -> None:
        """A finished output: its sources are done; new sources are appended to it. A Parquet output
        found only as its parts (moved there by an older batchface, killed) is taken up from them."""
        table = read_table(path if path.exists() else parts_dir(path), fmt)
        stored = (table.schema.metadata or {}).get(b"batchface")
        if stored:
            self.journal.check_same_run(
                {
                    "columns": table.schema.names,
                    **{k: v for k, v in json.loads(stored).items() if k != "batchface_version"},
                }
            )
        elif table.num_columns and table.schema.names != self.table.schema.names:
            # CSV and JSONL keep no metadata: the columns are all that can be checked
            raise ValueError(
                f"--resume of {path}: its columns differ from this run's (--landmarks, or another expression model?)"
            )
        rows = table.select(["source", "status"]).to_pylist() if table.num_columns else []
        done = list(dict.fromkeys(whole(from_text(r["source"])) for r in rows))
        failed = list(dict.fromkeys(whole(from_text(r["source"])) for r in rows if r["status"] == "error"))
        self.journal.start([{"keys": done, "failed": failed, **self.table.take_up()}] if done else [])
        if not done:
            self.table.start(None)

    def commit(self, key: tuple, rows: list[dict], tracks: dict | None = None) -> None:
        """Add the complete rows of one key; written out in batches. ``tracks``: for a piece of a
        video that goes on, the state of its face tracks after it, journalled with it."""
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
                [key for key, rows in self._pending if any(r.get("status") == "error" for r in rows)],
                where,
                self._pending_tracks,
            )
        self._pending, self._pending_rows, self._last_flush = [], 0, time.monotonic()
        self._pending_tracks = {}

    def close(self, finished: bool = True) -> None:
        """Flush; when ``finished``, make the final table and remove the journal.

        In an order that leaves one whole copy of the table after a kill at any step, which
        ``resume`` recognises: the table is joined beside the output (Parquet), the journal says so,
        the joined file is renamed into place, the journal is removed, then the parts."""
        self.flush()
        if finished:
            self.table.join()
            self.journal.record_joined()
            self._clear_up()
        else:
            self.journal.close()
        if self._scratch is not None:
            self._scratch.cleanup()

    def _clear_up(self) -> None:
        """After the journal's ``joined``: the joined table put in place, the journal and parts removed."""
        self.table.put_in_place()
        self.journal.close(remove=True)
        self.table.clear()


def _empty_folder(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def read_table(path, fmt: str | None = None) -> pa.Table:
    """Read a batchface output back (Parquet, CSV or JSONL) as an Arrow table."""
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
