"""Where the annotated copies go: each input's copy mirrors its path below the ``--annotate``
folder, and a copy never replaces an input, the output or anything a symbolic link leads to."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePath

from batchface.media.inputs import IMAGE_EXTENSIONS, Source
from batchface.vocabulary import MediaType


def mirrored_path(annotate_dir: str | os.PathLike[str], source: str, media_type: str) -> Path:
    """Where the annotated copy of an input goes.

    Videos become ``.mp4`` (``.webm`` if a side is odd: :class:`batchface.output.annotate.VideoSink`); images keep their
    format when OpenCV can write it, else become ``.png``.

    Args:
        annotate_dir: the ``--annotate`` folder.
        source: the input's path relative to the argument it was found under
            (:attr:`batchface.media.inputs.Source.relative`); any root or ``..`` in it is dropped or becomes ``__``.
        media_type: ``image`` or ``video``.

    Returns:
        The copy's path below ``annotate_dir``.
    """
    parts = [
        ("__" if p == ".." else p) for p in PurePath(source).parts if p not in ("/", ".") and not p.endswith(":\\")
    ]
    target = Path(annotate_dir).joinpath(*parts)
    if media_type == MediaType.video:
        return target.with_name(target.name + ".mp4") if target.suffix.lower() != ".mp4" else target
    return target if target.suffix.lower() in IMAGE_EXTENSIONS else target.with_name(target.name + ".png")


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_apart(annotate_dir: str | os.PathLike[str], out: str | os.PathLike[str]) -> None:
    """Refuse a folder output that is the ``--annotate`` folder, or one inside the other: the copies
    would be read as part files, or the part files' folder walked for copies.

    Args:
        annotate_dir: the ``--annotate`` folder.
        out: the folder output (``--out DIR/``).

    Raises:
        ValueError: the two are not apart.
    """
    copies, table = os.path.realpath(annotate_dir), os.path.realpath(out)
    if _inside(table, copies) or _inside(copies, table):
        raise ValueError(f"--annotate {annotate_dir} and the folder output --out {out} must be apart")


def check_copies(
    annotate_dir: str | os.PathLike[str],
    paths: Sequence[str | os.PathLike[str]],
    sources: Sequence[Source],
    out: str | os.PathLike[str] | None = None,
) -> None:
    """Refuse, before any work, annotated copies that could replace what is not theirs.

    A copy goes to its path below the argument it was found under, where there can be another
    input, or itself. Paths are compared real (links followed).

    Args:
        annotate_dir: the ``--annotate`` folder.
        paths: the run's arguments.
        sources: the inputs found under them.
        out: the output file, if any.

    Raises:
        ValueError: ``annotate_dir`` holds an input or an argument, or a copy's path is ``out``.
    """
    root = os.path.realpath(annotate_dir)
    named = [*(os.fspath(p) for p in paths), *(s.path for s in sources)]
    held = next((p for p in named if _inside(os.path.realpath(p), root)), None)
    if held is not None:
        raise ValueError(
            f"--annotate {annotate_dir} holds an input ({held}): its copies could replace inputs; "
            "choose a folder that holds none"
        )
    table = os.path.realpath(out) if out is not None else None
    for source in sources:
        copy = mirrored_path(annotate_dir, source.relative, source.media_type)
        if table in {os.path.realpath(copy), os.path.realpath(copy.with_suffix(".webm"))}:
            raise ValueError(f"the annotated copy of {source.path} would replace the output {out}")


def check_no_link(path: Path, root: str | os.PathLike[str] | None) -> None:
    """Refuse a copy's path that a symbolic link below ``root`` leads elsewhere (onto an input,
    perhaps): a copy is written at its own path or not at all.

    Args:
        path: the copy's path.
        root: the ``--annotate`` folder (None: nothing to check).

    Raises:
        OSError: ``path`` leads through a symbolic link.
    """
    if root is not None and os.path.realpath(path) != os.path.join(os.path.realpath(root), os.path.relpath(path, root)):
        raise OSError(f"{path} leads through a symbolic link, which a copy never follows")


def piece_path(copy: Path, start: int, suffix: str) -> Path:
    """Where a piece of a video's annotated copy is kept until the pieces are joined
    (:func:`batchface.output.annotate.join_pieces`).

    Args:
        copy: the whole video's copy (:func:`mirrored_path`).
        start: the piece's first frame index.
        suffix: what the file's name ends with (``.faces``, ``.mp4``, ``.webm``).

    Returns:
        A hidden file beside ``copy``, named by the piece's first frame.
    """
    return copy.with_name(f".{copy.name}.piece-{start:09d}{suffix}")
