"""Finding the inputs: image and video files under the paths given, in a stable order.

Decoding them is :mod:`batchface.media.decoding`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from batchface.vocabulary import MediaType

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})
NOT_MEDIA = "not an image or video"  # why a file of another extension is skipped
#: where the walk notes ``(path, why)`` of each entry it skips (None: nowhere)
Skipped = list[tuple[str, str]] | None


@dataclass(frozen=True)
class Source:
    """One input file: ``path`` as walked (relative when the argument was), ``media_type``
    image|video; ``relative``: its path below the argument it was found under (a file named as an
    argument: its name), where its annotated copy goes (:func:`disambiguated`)."""

    path: str
    media_type: str
    relative: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.relative:
            object.__setattr__(self, "relative", os.path.basename(self.path))


def disambiguated(sources: list[Source], paths: Iterable[str | os.PathLike]) -> list[Source]:
    """Give each source a ``relative`` path of its own, so that no annotated copy replaces another.

    Those that two arguments share are prefixed by their argument's own name (a file named as an
    argument: the name of its folder); any still shared are numbered ``-2``, ``-3``, ... before the
    extension, in order.

    Args:
        sources: the inputs as walked.
        paths: the arguments they were found under.

    Returns:
        ``sources`` in the same order, each with a ``relative`` path no other has.
    """
    shared = {r for r, n in Counter(s.relative for s in sources).items() if n > 1}
    if not shared:
        return sources
    roots = [os.path.normpath(os.fspath(p)) for p in paths]

    def name_of_argument(source: Source) -> str:
        path = os.path.normpath(source.path)
        if path in roots:  # a file named as an argument
            return os.path.basename(os.path.dirname(os.path.abspath(path)))
        return os.path.basename(next((r for r in roots if path.startswith(r + os.sep)), ""))

    sources = [
        replace(s, relative=os.path.join(name_of_argument(s), s.relative)) if s.relative in shared else s
        for s in sources
    ]
    taken, own = {s.relative for s in sources}, set()
    for i, s in enumerate(sources):
        if s.relative in own:
            stem, extension = os.path.splitext(s.relative)
            number = 2
            while f"{stem}-{number}{extension}" in taken:
                number += 1
            sources[i] = replace(s, relative=f"{stem}-{number}{extension}")
            taken.add(sources[i].relative)
        own.add(sources[i].relative)
    return sources


def media_type_of(path: str | os.PathLike) -> str | None:
    """Whether a file is an image or a video, by its first bytes, falling back on its extension.

    Only files with an image or video extension are considered, but the content decides which
    of the two they are, so a PNG named ``.jpg`` is an image and an AVI named ``.mp4`` a video.

    Args:
        path: the file.

    Returns:
        ``image`` or ``video``; None to skip the file.
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
        return MediaType.image.value
    if head[4:8] == b"ftyp" or head.startswith(b"\x1a\x45\xdf\xa3") or (head[:4] == b"RIFF" and head[8:12] == b"AVI "):
        return MediaType.video.value
    return by_extension


def walk(
    paths: Iterable[str | os.PathLike],
    skipped: Skipped = None,
    exclude: Iterable[str | os.PathLike] = (),
) -> Iterator[Source]:
    """Yield the media files under ``paths`` (files or folders), folders walked recursively.

    Each folder's entries come in sorted order; hidden files and folders (a leading ``.``) are
    skipped; symbolic links are followed. Each real file and folder (by its real path: symbolic
    links followed, ``.``, ``..`` and doubled slashes gone) is yielded or walked once, by the first
    path that finds it, however many arguments, spellings or links lead to it (and a link loop ends).
    Hidden entries, files that are neither images nor videos, and folders that cannot be listed are
    appended to ``skipped`` as ``(path, why)``. A named path that does not exist, or a broken link with
    a media extension, is still yielded, so that its row can say so.

    Args:
        paths: files and folders.
        skipped: where to append ``(path, why)`` for each entry skipped (None: nowhere).
        exclude: paths skipped wherever they are found (the run's own output and annotated copies).

    Yields:
        Each media file, in order.
    """
    seen: set[str] = {os.path.realpath(p) for p in exclude}  # real paths of the files and folders met
    for arg in paths:
        arg = os.fspath(arg)
        if os.path.isdir(arg):
            yield from _walk_dir(arg, seen, skipped)
        else:
            yield from _file(arg, seen, skipped, missing_kind=_by_extension(arg) or MediaType.image.value)


def _by_extension(path: str | os.PathLike) -> str | None:
    ext = os.path.splitext(path)[1].lower()
    return (
        MediaType.image.value if ext in IMAGE_EXTENSIONS else MediaType.video.value if ext in VIDEO_EXTENSIONS else None
    )


def _file(
    path: str, seen: set[str], skipped: Skipped, missing_kind: str | None, relative: str = ""
) -> Iterator[Source]:
    real = os.path.realpath(path)
    if real in seen:  # found already, by another path, or the run's own output
        return
    seen.add(real)
    if os.path.exists(path) and not os.path.isfile(path):  # a named pipe or device would block its reader
        if skipped is not None:
            skipped.append((path, "not a regular file"))
        return
    kind = media_type_of(path) if os.path.exists(path) else missing_kind
    if kind:
        yield Source(path, kind, relative)
    elif skipped is not None:
        skipped.append((path, NOT_MEDIA))


def _walk_dir(folder: str, seen: set[str], skipped: Skipped) -> Iterator[Source]:
    """The media files under ``folder``, each ``relative`` to it, depth first in sorted order. A stack
    of the folders being listed stands for recursion, which Python stops at about a thousand levels
    (a folder 980 deep is a folder like any other)."""
    stack = [_entries(folder, "", seen, skipped)]
    while stack:
        found = next(stack[-1], None)
        if found is None:
            stack.pop()
            continue
        path, relative, entry = found
        if entry.is_dir(follow_symlinks=True):
            stack.append(_entries(path, relative, seen, skipped))
        else:
            yield from _file(path, seen, skipped, _by_extension(entry.name), relative)


def _entries(folder: str, below: str, seen: set[str], skipped: Skipped) -> Iterator[tuple]:
    """``(path, path below the folder walked first, os.DirEntry)`` of each visible entry of ``folder``
    (``below``: its own path below that one), sorted; none when it was visited or cannot be listed."""
    real = os.path.realpath(folder)
    if real in seen:  # visited, or the run's own output
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
        yield path, os.path.join(below, entry.name), entry


def read_paths_file(list_file: str | os.PathLike) -> list[str]:
    """Paths from ``--files-from``: one a line, blank lines ignored.

    Args:
        list_file: a UTF-8 text file; ``-`` reads standard input.

    Returns:
        The paths, in order.
    """
    import sys

    text = sys.stdin.read() if str(list_file) == "-" else Path(list_file).read_text(encoding="utf-8")
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]
