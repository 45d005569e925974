"""The output table: its columns, and writers keyed by format that survive a killed run.

Rows are committed a whole key at a time (a key names an input, or a piece of a video). While a
run is going, committed rows are on disk and readable: a CSV or JSONL output grows in place; a
Parquet output is kept as complete part files in ``<out>.parts/`` (readable as a dataset) and
joined into ``<out>`` when the run ends. ``<out>.progress`` journals the commits, one line for
each write (a line cut by a kill drops that whole write); with it, a resumed run drops anything
written after the last commit and goes on with the next key, so the finished table has exactly the
rows of an uninterrupted run.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from batchface.landmarks import KAGGLE_NAMES

FORMATS = ("parquet", "csv", "jsonl")

BASE_COLUMNS = [
    ("source", pa.string()), ("media_type", pa.string()), ("frame_index", pa.int64()),
    ("timestamp_s", pa.float64()), ("width", pa.int32()), ("height", pa.int32()),
    ("face_index", pa.int32()), ("status", pa.string()), ("error", pa.string()),
    ("box_x", pa.float64()), ("box_y", pa.float64()), ("box_w", pa.float64()), ("box_h", pa.float64()),
    ("det_score", pa.float64()),
]
KAGGLE_COLUMNS = [f"{name}_{axis}" for name in KAGGLE_NAMES for axis in ("x", "y")]


def schema(classes, landmark_names=()) -> pa.Schema:
    """The table's columns; ``p_<class>`` per expression class, ``lm_<name>_x/_y`` per landmark."""
    fields = list(BASE_COLUMNS) + [(c, pa.float64()) for c in KAGGLE_COLUMNS]
    fields += [("emotion", pa.string()), ("emotion_score", pa.float64())]
    fields += [(f"p_{c}", pa.float64()) for c in classes]
    fields += [(f"lm_{n}_{axis}", pa.float64()) for n in landmark_names for axis in ("x", "y")]
    return pa.schema(fields)


def format_of(path, fmt: str | None = None) -> str:
    """The output format: ``fmt`` if given, else from the extension of ``path``."""
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
        return fmt
    ext = Path(path).suffix.lower().lstrip(".")
    ext = {"pq": "parquet", "json": "jsonl", "ndjson": "jsonl"}.get(ext, ext)
    if ext not in FORMATS:
        raise ValueError(f"cannot tell the format from {Path(path).name!r}: use --format "
                         f"{'|'.join(FORMATS)} or an extension .parquet, .pq, .csv, .jsonl, .json or .ndjson")
    return ext


class TableWriter:
    """Writes rows of one :func:`schema` to ``path`` in ``fmt``, committing whole keys.

    Rows are made durable (written, fsynced, journalled) every ``commit_seconds`` or 2,000 rows.

    ``resume=True`` continues a killed (or finished) run at ``path``; otherwise ``path`` and its
    journal must not exist. :attr:`done` holds the keys already committed, :attr:`failed` those of
    them whose rows include an ``error`` row.
    """

    flush_rows = 2000

    def __init__(self, path, fmt: str, table_schema: pa.Schema, metadata: dict | None = None,
                 resume: bool = False, commit_seconds: float = 2.0):
        self.path, self.fmt, self.schema = Path(path), fmt, table_schema
        self.commit_seconds = commit_seconds
        if metadata:
            self.schema = table_schema.with_metadata({"batchface": json.dumps(metadata)})
        # what must not change between a run and its --resume: the columns and what shapes the rows
        self.identity = {"columns": table_schema.names,
                         **{k: v for k, v in (metadata or {}).items() if k != "batchface_version"}}
        self.progress_path = self.path.with_name(self.path.name + ".progress")
        self.parts_dir = self.path.with_name(self.path.name + ".parts")
        self.done: list[str] = []
        self.failed: list[str] = []
        self._pending: list[tuple[str, list[dict]]] = []
        self._pending_rows, self._last_flush = 0, time.monotonic()
        self._part = 0
        if resume:
            self._recover()
        elif self.path.exists() or self.progress_path.exists() or self.parts_dir.exists():
            raise FileExistsError(f"{self.path} exists: pass --resume to finish that run, "
                                  "or --overwrite to start again")
        if fmt == "parquet":
            self.parts_dir.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            with open(self.path, "w", encoding="utf-8", newline="") as f:
                if fmt == "csv":
                    f.write(self._csv_text([{n: n for n in self.schema.names}]))
                f.flush()
                os.fsync(f.fileno())  # the header is durable before any row is journalled
        if not self.progress_path.exists():
            self.progress_path.write_text(self._journal_text([]), encoding="utf-8")
        self._journal = open(self.progress_path, "a", encoding="utf-8")

    # --- recovery ---------------------------------------------------------------------------
    def _journal_text(self, entries) -> str:
        """The journal: a first line with the run's identity, then one line per write: its keys, the
        failed ones among them, and its part file (Parquet) or the file's length after it."""
        return "".join(json.dumps(e) + "\n" for e in [{"run": self.identity}] + entries)

    def _check_same_run(self, identity: dict) -> None:
        if identity != self.identity:
            changed = sorted(k for k in set(identity) | set(self.identity) if identity.get(k) != self.identity.get(k))
            raise ValueError(f"--resume of {self.path} with other settings than the run that wrote it "
                             f"(they differ in: {', '.join(changed)}): resume with the same options, "
                             "or start again with --overwrite")

    def _recover(self):
        if self.progress_path.exists():
            entries = []
            for line in self.progress_path.read_text(encoding="utf-8").splitlines():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    break  # a line cut by the kill: nothing after it was committed
            if entries and "run" in entries[0]:
                self._check_same_run(entries.pop(0)["run"])
            if any("keys" not in e for e in entries):
                raise ValueError(f"--resume of {self.path}: its journal {self.progress_path.name} was written by "
                                 "an older batchface; finish it with that version, or start again with --overwrite")
            self.done = [k for e in entries for k in e["keys"]]
            self.failed = [k for e in entries for k in e["failed"]]
            if self.fmt == "parquet":
                kept = {e["part"] for e in entries}
                for part in self.parts_dir.glob("*"):
                    if part.name not in kept:
                        part.unlink()  # written after the last commit, or a temporary file
                self._part = len(kept)
            elif entries:
                with open(self.path, "r+b") as f:
                    f.truncate(entries[-1]["offset"])
            elif self.path.exists():
                self.path.unlink()  # nothing committed, perhaps a torn header: written again below
            # rewrite the journal without a torn last line
            self.progress_path.write_text(self._journal_text(entries), encoding="utf-8")
        elif self.path.exists():
            # a finished output: its sources are done; new sources are appended to it
            table = read_table(self.path, self.fmt)
            stored = (table.schema.metadata or {}).get(b"batchface")
            if stored:
                meta = json.loads(stored)
                self._check_same_run({"columns": table.schema.names,
                                      **{k: v for k, v in meta.items() if k != "batchface_version"}})
            elif table.num_columns and table.schema.names != self.schema.names:
                # CSV and JSONL keep no metadata: the columns are all that can be checked
                raise ValueError(f"--resume of {self.path}: its columns differ from this run's "
                                 "(--landmarks, or another expression model?)")
            sources = table.column("source").to_pylist() if table.num_columns else []
            statuses = table.column("status").to_pylist() if table.num_columns else []
            self.done = list(dict.fromkeys(sources))
            self.failed = list(dict.fromkeys(s for s, status in zip(sources, statuses) if status == "error"))
            entry = {"keys": self.done, "failed": self.failed}
            if self.fmt == "parquet":
                self.parts_dir.mkdir(parents=True, exist_ok=True)
                os.replace(self.path, self.parts_dir / "part-000000.parquet")
                self._part = 1
                entry["part"] = "part-000000.parquet"
            else:
                entry["offset"] = self.path.stat().st_size
            entries = [entry] if self.done else []
            self.progress_path.write_text(self._journal_text(entries), encoding="utf-8")

    # --- writing ----------------------------------------------------------------------------
    def commit(self, key: str, rows: list[dict]) -> None:
        """Add the complete rows of one key (an input or a piece of a video); written out in batches."""
        self._pending.append((key, rows))
        self._pending_rows += len(rows)
        if self._pending_rows >= self.flush_rows or time.monotonic() - self._last_flush >= self.commit_seconds:
            self.flush()

    def flush(self) -> None:
        """Write pending rows, make them durable, then record their keys in the journal."""
        if not self._pending:
            return
        rows = [row for _, source_rows in self._pending for row in source_rows]
        if self.fmt == "parquet":
            name = f"part-{self._part:06d}.parquet"
            # a leading dot hides the file being written from pyarrow.dataset readers of the folder
            tmp = self.parts_dir / f".{name}.tmp"
            pq.write_table(pa.Table.from_pylist(rows, schema=self.schema), tmp)
            _fsync(tmp)
            os.replace(tmp, self.parts_dir / name)
            self._part += 1
            where = {"part": name}
        else:
            text = self._csv_text(rows) if self.fmt == "csv" else "".join(
                json.dumps({k: _json_value(r.get(k)) for k in self.schema.names}, ensure_ascii=False) + "\n" for r in rows)
            with open(self.path, "a", encoding="utf-8", newline="") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
                offset = f.tell()
            where = {"offset": offset}
        keys = [k for k, _ in self._pending]
        failed = [k for k, key_rows in self._pending if any(r["status"] == "error" for r in key_rows)]
        # one line for the whole write: a kill that cuts it leaves none of its keys committed
        self._journal.write(json.dumps({"keys": keys, "failed": failed, **where}) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())
        self.done.extend(keys)
        self.failed.extend(failed)
        self._pending, self._pending_rows, self._last_flush = [], 0, time.monotonic()

    def _csv_text(self, rows) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.schema.names, lineterminator="\n")
        writer.writerows(rows)
        return buffer.getvalue()

    def close(self, finished: bool = True) -> None:
        """Flush; when ``finished``, turn the journal into the final file and remove it."""
        self.flush()
        self._journal.close()
        if not finished:
            return
        if self.fmt == "parquet":
            tmp = self.path.with_name(self.path.name + ".tmp")
            with pq.ParquetWriter(tmp, self.schema) as writer:
                for part in sorted(self.parts_dir.glob("part-*.parquet")):
                    writer.write_table(pq.read_table(part, schema=self.schema))
            os.replace(tmp, self.path)
            shutil.rmtree(self.parts_dir)
        self.progress_path.unlink()


def _json_value(value):
    """JSON has no NaN or infinity: those become null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _fsync(path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def read_table(path, fmt: str | None = None) -> pa.Table:
    """Read a batchface output back (Parquet, CSV or JSONL) as an Arrow table."""
    fmt = format_of(path, fmt)
    if fmt == "parquet":
        return pq.read_table(path)
    # text columns stay text: a source named "123" must not come back as a number
    text = {"source": pa.string(), "media_type": pa.string(), "status": pa.string(), "error": pa.string(),
            "emotion": pa.string()}
    if fmt == "csv":
        import pyarrow.csv as pcsv
        return pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(strings_can_be_null=True,
                                                                       column_types=text))
    import pyarrow.json as pjson
    with open(path, encoding="utf-8") as f:
        head = json.loads(f.readline() or "{}")
    if not head:
        return pa.table({})  # no row: a run with nothing to analyse
    explicit = pa.schema([(k, t) for k, t in text.items() if k in head])
    table = pjson.read_json(path, parse_options=pjson.ParseOptions(explicit_schema=explicit))
    return table.select([k for k in head if k in table.column_names])  # the file's column order
