"""Writing the table, one small writer per format, and committing it a whole input at a time.

While a run is going, committed rows are on disk and readable: a CSV or JSONL output grows in place;
a Parquet output is kept as complete part files in ``<out>.parts/`` (readable as a dataset) and
joined into ``<out>`` when the run ends. :mod:`batchface.journal` records each write; with it a
resumed run drops anything written after the last commit, so the finished table has exactly the rows
of an uninterrupted run.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from batchface.journal import Journal, fsync, parts_dir, whole


class ParquetTable:
    """Parquet: each write is a part file in ``<out>.parts/``; :meth:`finish` joins them into ``<out>``."""

    extensions = ("parquet", "pq")

    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.schema, self.parts = path, schema, parts_dir(path)
        self.count = 0

    def start(self, last: dict | None) -> None:
        """Ready to write after the write that left the table at ``last`` (None: nothing written)."""
        kept = {f"part-{i:06d}.parquet" for i in range(int(last["part"][5:11]) + 1)} if last else set()
        self.parts.mkdir(parents=True, exist_ok=True)
        for part in self.parts.iterdir():
            if part.name not in kept:
                part.unlink()  # written after the last commit, or a temporary file
        self.count = len(kept)

    def take_up(self) -> dict:
        """A finished output becomes the first part of a resumed run; returns where that leaves it."""
        self.parts.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, self.parts / "part-000000.parquet")
        self.count = 1
        return {"part": "part-000000.parquet"}

    def write(self, rows: list[dict]) -> dict:
        name = f"part-{self.count:06d}.parquet"
        temporary = self.parts / f".{name}.tmp"  # a leading dot hides it from readers of the folder
        pq.write_table(pa.Table.from_pylist(rows, schema=self.schema), temporary)
        fsync(temporary)
        os.replace(temporary, self.parts / name)
        self.count += 1
        return {"part": name}

    def finish(self) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        with pq.ParquetWriter(temporary, self.schema) as writer:
            for part in sorted(self.parts.glob("part-*.parquet")):
                writer.write_table(pq.read_table(part, schema=self.schema))
        os.replace(temporary, self.path)
        for part in self.parts.iterdir():
            part.unlink()
        self.parts.rmdir()


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

    def finish(self) -> None:
        pass


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


def is_folder(path) -> bool:
    """Whether ``--out`` names a folder: a Parquet dataset of part files (:class:`ParquetFolder`)."""
    return str(path).endswith(("/", os.sep)) or Path(path).is_dir()


class TextTable:
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

    def finish(self) -> None:
        pass

    def header(self) -> str:
        return ""

    def text(self, rows: list[dict]) -> str:
        raise NotImplementedError


class CsvTable(TextTable):
    extensions = ("csv",)

    def header(self) -> str:
        return self.text([{n: n for n in self.schema.names}])

    def text(self, rows: list[dict]) -> str:
        buffer = io.StringIO()
        csv.DictWriter(buffer, fieldnames=self.schema.names, lineterminator="\n").writerows(rows)
        return buffer.getvalue()


class JsonlTable(TextTable):
    extensions = ("jsonl", "ndjson")

    def text(self, rows: list[dict]) -> str:
        # JSON has no NaN or infinity: those become null
        clean = lambda v: None if isinstance(v, float) and not math.isfinite(v) else v
        return "".join(
            json.dumps({k: clean(r.get(k)) for k in self.schema.names}, ensure_ascii=False) + "\n" for r in rows
        )


class Stdout:
    """A text format written to standard output as it is committed (``--out -``): nothing to resume."""

    def __init__(self, table: TextTable):
        self.table = table

    def start(self, last: dict | None) -> None:
        sys.stdout.write(self.table.header())

    def write(self, rows: list[dict]) -> dict:
        sys.stdout.write(self.table.text(rows))
        sys.stdout.flush()
        return {}

    def finish(self) -> None:
        pass


FORMATS = {"parquet": ParquetTable, "csv": CsvTable, "jsonl": JsonlTable}
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


class TableWriter:
    """Writes rows of one schema to ``path`` in ``fmt``, committing whole keys (inputs, or pieces of
    a video: :mod:`batchface.journal`).

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
            self.table.start(self.journal.last)
        elif resume and path.exists():
            self._take_up_finished(path, fmt)
        elif (path.exists() and not _empty_folder(path)) or self.journal.exists() or parts_dir(path).exists():
            raise FileExistsError(f"{path} exists: pass --resume to finish that run, or --overwrite to start again")
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
        """A finished output: its sources are done; new sources are appended to it."""
        table = read_table(path, fmt)
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
        done = list(dict.fromkeys(whole(r["source"]) for r in rows))
        failed = list(dict.fromkeys(whole(r["source"]) for r in rows if r["status"] == "error"))
        self.journal.start([{"keys": done, "failed": failed, **self.table.take_up()}] if done else [])
        if not done:
            self.table.start(None)

    @property
    def tracks(self) -> dict[str, dict]:
        """The journalled state of the face tracks of each video of which some pieces are committed."""
        return self.journal.tracks

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
        """Flush; when ``finished``, turn the parts into the final file and remove the journal."""
        self.flush()
        if finished:
            self.table.finish()
        self.journal.close(remove=finished)
        if self._scratch is not None:
            self._scratch.cleanup()


def _empty_folder(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def read_table(path, fmt: str | None = None) -> pa.Table:
    """Read a batchface output back (Parquet, CSV or JSONL) as an Arrow table."""
    fmt = format_of(path, fmt)
    if fmt == "parquet":
        return pq.read_table(path)
    from batchface.table import schema

    # text columns stay text: a source named "123" must not come back as a number
    text = {f.name: f.type for f in schema(()) if f.type == pa.string()}
    if fmt == "csv":
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(strings_can_be_null=True, column_types=text))
    import pyarrow.json as pjson

    with open(path, encoding="utf-8") as f:
        head = json.loads(f.readline() or "{}")
    if not head:
        return pa.table({})  # no row: a run with nothing to analyse
    explicit = pa.schema([(k, t) for k, t in text.items() if k in head])
    table = pjson.read_json(path, parse_options=pjson.ParseOptions(explicit_schema=explicit))
    return table.select([k for k in head if k in table.column_names])  # the file's column order
