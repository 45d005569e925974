"""Finding the inputs: image and video files under the paths given, in a stable order.

Decoding them is :mod:`batchface.decoding`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})


@dataclass(frozen=True)
class Source:
    """One input file: ``path`` as walked (relative when the argument was), ``media_type`` image|video."""

    path: str
    media_type: str


def media_type_of(path) -> str | None:
    """``image`` or ``video`` by the file's first bytes, falling back on its extension; None to skip.

    Only files with an image or video extension are considered, but the content decides which
    of the two they are, so a PNG named ``.jpg`` is an image and an AVI named ``.mp4`` a video.
    """
    by_extension = _by_extension(path)
    if by_extension is None:
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return by_extension
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG", b"BM", b"II*\x00", b"MM\x00*")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    ):
        return "image"
    if head[4:8] == b"ftyp" or head.startswith(b"\x1a\x45\xdf\xa3") or (head[:4] == b"RIFF" and head[8:12] == b"AVI "):
        return "video"
    return by_extension


def walk(paths: Iterable, skipped: list | None = None) -> Iterator[Source]:
    """Yield the media files under ``paths`` (files or folders), folders walked recursively.

    Each folder's entries come in sorted order; hidden files and folders (a leading ``.``) are
    skipped; symbolic links are followed, each real folder visited once (no loops). Hidden entries,
    files that are neither images nor videos, and folders that cannot be listed are appended to
    ``skipped`` as ``(path, why)``. A named path that does not exist, or a broken link with a media extension, is
    still yielded, so that its row can say so.
    """
    seen_dirs: set[str] = set()
    for arg in paths:
        arg = os.fspath(arg)
        if os.path.isdir(arg):
            yield from _walk_dir(arg, seen_dirs, skipped)
        else:
            yield from _file(arg, skipped, missing_kind=_by_extension(arg) or "image")


def _by_extension(path: str) -> str | None:
    ext = Path(path).suffix.lower()
    return "image" if ext in IMAGE_EXTENSIONS else "video" if ext in VIDEO_EXTENSIONS else None


def _file(path: str, skipped, missing_kind: str | None) -> Iterator[Source]:
    if os.path.exists(path) and not os.path.isfile(path):  # a named pipe or device would block its reader
        if skipped is not None:
            skipped.append((path, "not a regular file"))
        return
    kind = media_type_of(path) if os.path.exists(path) else missing_kind
    if kind:
        yield Source(path, kind)
    elif skipped is not None:
        skipped.append((path, "not an image or video"))


def _walk_dir(folder: str, seen: set[str], skipped) -> Iterator[Source]:
    real = os.path.realpath(folder)
    if real in seen:
        return
    seen.add(real)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:  # no permission, or gone since it was seen: say so instead of vanishing
        if skipped is not None:
            skipped.append((folder, f"a folder that cannot be listed: {e.strerror or e}"))
        return
    for entry in entries:
        path = os.path.join(folder, entry.name)
        if entry.name.startswith("."):
            if skipped is not None:
                skipped.append((path, "hidden"))
            continue
        if entry.is_dir(follow_symlinks=True):
            yield from _walk_dir(path, seen, skipped)
        else:
            yield from _file(path, skipped, missing_kind=_by_extension(path))


def read_paths_file(list_file) -> list[str]:
    """Paths from ``--files-from``: one a line, blank lines ignored; ``-`` reads standard input."""
    import sys

    text = sys.stdin.read() if str(list_file) == "-" else Path(list_file).read_text(encoding="utf-8")
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]
