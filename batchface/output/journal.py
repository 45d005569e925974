"""The journal of an output, ``<out>.progress``: which inputs are in the table, so that a killed run
can be finished (``--resume``) without loss or duplicates.

Its first line holds the run's identity (the columns and what shapes the rows); then one line for
each write of rows: the keys written, those of them with an error row, and where the table stood
after the write (a Parquet part file, or the length of a CSV or JSONL file). A line cut by a kill
drops its whole write. A key names an input or a piece of a video: ``(its real path (:func:`key_of`),
first frame, end frame or None)``; a whole input is ``(path, 0, None)``. A write that ends a piece of a video that
goes on also holds the state of the video's face tracks after it (:class:`batchface.faces.tracking.VideoTracks`).
A last line ``{"joined": true}`` says that the run ended and its table is whole (a Parquet output's parts
joined beside it): what is left is only to put it in place and clear up (:class:`batchface.output.writers.TableWriter`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from batchface.output.table import text


def progress_path(out) -> Path:
    return Path(out).with_name(Path(out).name + ".progress")


def parts_dir(out) -> Path:
    """Where a Parquet output keeps its committed part files while the run goes on."""
    return Path(out).with_name(Path(out).name + ".parts")


def key_of(path: str) -> str:
    """What names an input in the journal: its real path (absolute, symbolic links followed, ``.``,
    ``..`` and doubled slashes gone), so that ``x``, ``/data/x``, ``./x``, ``a/../x`` and a link to
    it are one input, whichever a run or its ``--resume`` named; written as the table writes a path
    (:func:`batchface.output.table.text`: bytes of a file name that are not UTF-8 as ``\\xNN``), so that a
    path walked and a ``source`` read back from a finished table compare in one domain."""
    return text(os.path.realpath(path))


def whole(path: str) -> tuple:
    """The key of a whole input (the ``source`` column keeps the path as walked)."""
    return (key_of(path), 0, None)


def from_text(source: str) -> str:
    """A path as :func:`batchface.output.table.text` wrote it, back as Python holds a file name: each
    ``\\xNN`` of 80 to ff a lone surrogate again (the byte of a name that is not UTF-8), so that a
    ``source`` read from a table finds its file; :func:`key_of` writes it as it was."""
    return re.sub(r"\\x([89a-f][0-9a-f])", lambda m: chr(0xDC00 + int(m[1], 16)), source)


def remove_output(out) -> None:
    """Delete an output and what a killed run left beside it."""
    if Path(out).is_dir():  # a Parquet dataset of part files
        shutil.rmtree(out)
    joined = Path(out).with_name(Path(out).name + ".tmp")  # a Parquet join, cut by a kill
    for path in (Path(out), progress_path(out), joined):
        path.unlink(missing_ok=True)
    shutil.rmtree(parts_dir(out), ignore_errors=True)


def fsync(path) -> None:
    """Make a file's data, or a folder's entries (a rename, a new file), durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def differences(before: dict, now: dict, prefix: str = "") -> list[str]:
    """What differs between two identities, key by key (options one by one): ``name: old -> new``."""
    out = []
    for key in sorted(set(before) | set(now)):
        old, new = before.get(key), now.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            out += differences(old, new, f"{prefix}{key}.")
        elif isinstance(old, list) and isinstance(new, list) and len(old) + len(new) > 8:  # columns
            gone, added = [c for c in old if c not in new], [c for c in new if c not in old]
            out.append(f"{prefix}{key}: {len(old)} -> {len(new)} (without {gone or 'none'}, with {added or 'none'})")
        else:
            out.append(f"{prefix}{key}: {json.dumps(old)} -> {json.dumps(new)}")
    return out


class Journal:
    """``<out>.progress`` of a run whose identity is ``identity`` (a JSON-able dict).

    :attr:`done` lists the keys committed, in order, :attr:`failed` those of them with an error row;
    :attr:`last` is where the table stood after the last write (None before any); :attr:`tracks`
    the last state of the face tracks of each video journalled, by path; :attr:`joined` whether the
    run ended with its table whole (:meth:`record_joined`).
    """

    def __init__(self, out, identity: dict):
        self.out, self.path, self.identity = Path(out), progress_path(out), identity
        self.done: list[tuple] = []
        self.failed: list[tuple] = []
        self.last: dict | None = None
        self.tracks: dict[str, dict] = {}
        self.joined = False
        self._entries: list[dict] = []
        self._file = None

    def exists(self) -> bool:
        return self.path.exists()

    def recover(self) -> None:
        """Read the journal of a killed run; a torn last line and what it names are dropped."""
        entries = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut by the kill: nothing after it was committed
        if entries and "run" in entries[0]:
            self.check_same_run(entries.pop(0)["run"])
        self.start(entries)  # written again without the torn line

    def check_same_run(self, identity: dict) -> None:
        if identity != self.identity:
            raise ValueError(
                f"--resume of {self.out} with other settings than the run that wrote it (they differ in: "
                f"{'; '.join(differences(identity, self.identity))}): resume with the same options, "
                "or start again with --overwrite"
            )

    def start(self, entries=()) -> None:
        """Write the journal anew: nothing committed, or ``entries`` (as :meth:`record` writes them)."""
        self._entries, self.done, self.failed, self.last, self.tracks = [], [], [], None, {}
        self.joined = False
        for entry in entries:
            self._remember(entry)
        lines = [{"run": self.identity}] + self._entries
        # written whole or not at all: a kill while writing must not leave a journal without its entries
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
        fsync(temporary)
        os.replace(temporary, self.path)
        fsync(self.path.parent)

    def record(self, keys: list, failed: list, where: dict, tracks: dict | None = None) -> None:
        """Journal one write, durably: its line is the commit. ``tracks``: the track state of each
        video whose piece it ends, by path."""
        self._append({"keys": keys, "failed": failed, **where, **({"tracks": tracks} if tracks else {})})

    def record_joined(self) -> None:
        """Journal, durably, that the run ended and its table is whole (beside the output, for Parquet)."""
        self._append({"joined": True})

    def _append(self, entry: dict) -> None:
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._remember(entry)

    def close(self, remove: bool = False) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if remove:
            self.path.unlink()
            fsync(self.path.parent)

    def _remember(self, entry: dict) -> None:
        self._entries.append(entry)
        if entry.get("joined"):
            self.joined = True
            return
        self.done += [tuple(k) for k in entry["keys"]]
        self.failed += [tuple(k) for k in entry["failed"]]
        self.tracks.update(entry.get("tracks", {}))
        self.last = {k: v for k, v in entry.items() if k not in ("keys", "failed", "tracks")}
