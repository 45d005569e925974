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
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from batchface.output.table import text


def progress_path(out: str | os.PathLike[str]) -> Path:
    """Where the journal of an output is kept.

    Args:
        out: the output.

    Returns:
        ``<out>.progress`` beside it.
    """
    return Path(out).with_name(Path(out).name + ".progress")


def parts_dir(out: str | os.PathLike[str]) -> Path:
    """Where a Parquet output keeps its committed part files while the run goes on.

    Args:
        out: the output.

    Returns:
        ``<out>.parts`` beside it.
    """
    return Path(out).with_name(Path(out).name + ".parts")


def key_of(path: str) -> str:
    r"""What names an input in the journal: its real path (absolute, symbolic links followed, ``.``,
    ``..`` and doubled slashes gone).

    So ``x``, ``/data/x``, ``./x``, ``a/../x`` and a link to it are one input, whichever a run or its
    ``--resume`` named; written as the table writes a path (:func:`batchface.output.table.text`: bytes
    of a file name that are not UTF-8 as ``\xNN``), so that a path walked and a ``source`` read back
    from a finished table compare in one domain.

    Args:
        path: the input's path, as walked or as a table's ``source`` holds it (:func:`from_text`).

    Returns:
        The key's path.
    """
    return text(os.path.realpath(path))


def whole(path: str) -> tuple:
    """The key of a whole input (the ``source`` column keeps the path as walked).

    Args:
        path: the input's path.

    Returns:
        ``(key_of(path), 0, None)``.
    """
    return (key_of(path), 0, None)


def from_text(source: str) -> str:
    r"""A path as :func:`batchface.output.table.text` wrote it, back as Python holds a file name.

    Each ``\xNN`` of 80 to ff becomes a lone surrogate again (the byte of a name that is not
    UTF-8), so that a ``source`` read from a table finds its file; :func:`key_of` writes it as it was.

    Args:
        source: a ``source`` column's value.

    Returns:
        The file's name as Python holds it.
    """
    return re.sub(r"\\x([89a-f][0-9a-f])", lambda m: chr(0xDC00 + int(m[1], 16)), source)


def remove_output(out: str | os.PathLike[str]) -> None:
    """Delete an output and what a killed run left beside it (journal, parts, a join cut short).

    Args:
        out: the output (a file, or a folder of part files).
    """
    if Path(out).is_dir():  # a Parquet dataset of part files
        shutil.rmtree(out)
    joined = Path(out).with_name(Path(out).name + ".tmp")  # a Parquet join, cut by a kill
    for path in (Path(out), progress_path(out), joined):
        path.unlink(missing_ok=True)
    shutil.rmtree(parts_dir(out), ignore_errors=True)


def fsync(path: str | os.PathLike[str]) -> None:
    """Make a file's data, or a folder's entries (a rename, a new file), durable.

    Args:
        path: the file or folder.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def differences(before: dict, now: dict, prefix: str = "") -> list[str]:
    """What differs between two identities, key by key (options one by one).

    Args:
        before: the identity a journal or table holds.
        now: this run's.
        prefix: put before each key's name (a nested dict's own name and a dot).

    Returns:
        ``name: old -> new`` for each key that differs, by name.
    """
    out: list[str] = []
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

    def __init__(self, out: str | os.PathLike[str], identity: dict) -> None:
        self.out, self.path, self.identity = Path(out), progress_path(out), identity
        self.done: list[tuple] = []
        self.failed: list[tuple] = []
        self.last: dict | None = None
        self.tracks: dict[str, dict] = {}
        self.joined = False
        self._entries: list[dict] = []
        self._file: TextIO | None = None

    def exists(self) -> bool:
        """Whether the journal's file exists.

        Returns:
            True when it does: a run killed, or one going on.
        """
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
        """Refuse to resume a run whose identity is not this one's.

        Args:
            identity: the identity of the run that wrote the output.

        Raises:
            ValueError: the identities differ; the message lists how (:func:`differences`).
        """
        if identity != self.identity:
            raise ValueError(
                f"--resume of {self.out} with other settings than the run that wrote it (they differ in: "
                f"{'; '.join(differences(identity, self.identity))}): resume with the same options, "
                "or start again with --overwrite"
            )

    def start(self, entries: Iterable[dict] = ()) -> None:
        """Write the journal anew, whole or not at all.

        Args:
            entries: what is committed, as :meth:`record` writes it (none: nothing).
        """
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
        """Journal one write, durably: its line is the commit.

        Args:
            keys: the keys written.
            failed: those of them with an error row.
            where: where the table stood after the write (the format's :meth:`write` says).
            tracks: the track state of each video whose piece the write ends, by path.
        """
        self._append({"keys": keys, "failed": failed, **where, **({"tracks": tracks} if tracks else {})})

    def record_joined(self) -> None:
        """Journal, durably, that the run ended and its table is whole (beside the output, for Parquet)."""
        self._append({"joined": True})

    def _append(self, entry: dict) -> None:
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")
        file = self._file
        file.write(json.dumps(entry) + "\n")
        file.flush()
        os.fsync(file.fileno())
        self._remember(entry)

    def close(self, remove: bool = False) -> None:
        """Close the journal's file.

        Args:
            remove: remove it too, durably (the run's table is whole and in place).
        """
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
