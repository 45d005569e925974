"""What a run did, counted as its results are committed, and said in one line."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from batchface.errors import printable
from batchface.media.inputs import NOT_MEDIA
from batchface.output.table import ERROR, STATUS
from batchface.vocabulary import MediaType, Status

if TYPE_CHECKING:
    from batchface.engine.worker import Result

SHOWN_FAILURES = 20  # with --quiet, the failed inputs listed at the end; the table has them all


@dataclass
class Summary:
    """What a run did: counts of inputs, frames, faces; the inputs skipped and failed, with why."""

    inputs: int = 0
    images: int = 0
    videos: int = 0
    frames: int = 0
    faces: int = 0
    skipped: int = 0
    errors: int = 0
    resumed: int = 0
    seconds: float = 0.0
    output: str = ""
    skipped_paths: list = field(default_factory=list)  # (path, why)
    failures: list = field(default_factory=list)  # (path, why) of this session's inputs with an error row
    ray_nodes: set = field(default_factory=set)  # with the ray engine: the nodes that did work
    failed: set = field(default_factory=set)  # the table's paths with an error row, earlier sessions' too
    done: int = 0  # inputs finished, those of earlier sessions too

    def add(self, result: Result) -> str | None:
        """Count a committed result.

        Args:
            result: the rows of an image, or of a video or a piece of one.

        Returns:
            The first error of its rows, or None.
        """
        self.frames += result.frames
        self.faces += sum(r[STATUS] == Status.ok for r in result.rows)
        errors = [r[ERROR] for r in result.rows if r[STATUS] == Status.error]
        if errors:
            self.failed.add(result.work.key[0])
            self.failures.append((result.work.source.path, errors[0]))
        self.errors = len(self.failed)
        if result.work.last:  # an input is done with its last piece
            self.images += result.work.source.media_type == MediaType.image
            self.videos += result.work.source.media_type == MediaType.video
            self.done += 1
        return errors[0] if errors else None

    def _on_ray(self) -> str:
        n = len(self.ray_nodes)
        return f" on {n} Ray node{'s' if n > 1 else ''}" if n else ""

    def skipped_kinds(self, shown: int = 3) -> str:
        """What was skipped, the commonest kinds first.

        Args:
            shown: how many kinds to name.

        Returns:
            ``" (7 .xml, 1 hidden)"``, or nothing where nothing was skipped.
        """
        kinds = Counter(
            why if why != NOT_MEDIA else Path(path).suffix.lower() or "without an extension"
            for path, why in self.skipped_paths
        )
        said = [f"{n} {kind}" for kind, n in kinds.most_common(shown)]
        return f" ({', '.join(said)}{', ...' if len(kinds) > shown else ''})" if said else ""

    def line(self) -> str:
        """The summary in one line, as the command ends with it.

        Returns:
            ``"3 inputs (2 images, 1 video), 277 frames, ... -> results.parquet"``.
        """
        rate = self.faces / self.seconds if self.seconds else 0.0
        resumed = f", {self.resumed} already done" if self.resumed else ""
        return (
            f"{counted(self.inputs, 'input')} ({counted(self.images, 'image')}, {counted(self.videos, 'video')}"
            f"{resumed}), {counted(self.frames, 'frame')}, {counted(self.faces, 'face')}, "
            f"{self.skipped} skipped{self.skipped_kinds()}, {counted(self.errors, 'error')} "
            f"in {self.seconds:.1f} s ({rate:.1f} faces/s)"
            f"{self._on_ray()} -> {self.output}"
        )

    def closing_lines(self, quiet: bool, verbose: bool, shown: int = SHOWN_FAILURES) -> list[str]:
        """What the command says on standard error as a run ends.

        Args:
            quiet: there was no progress bar to show the failed inputs as they came: list them here.
            verbose: list the files and folders skipped, and why.
            shown: how many failed inputs to list, at most.

        Returns:
            The lines, the last one :meth:`line`.
        """
        lines = [f"skipped ({why}): {printable(path)}" for path, why in self.skipped_paths] if verbose else []
        if quiet:
            lines += [failure_line(path, why) for path, why in self.failures[:shown]]
        if self.errors:
            more = max(0, len(self.failures) - shown) if quiet else 0
            lines.append(
                f"batchface: {f'{more} more failed; ' if more else ''}the rows with status 'error' in "
                f"{'the output' if self.output == '-' else self.output} say why each input failed"
            )
        return lines + [f"batchface: {self.line()}"]


def counted(n: int, noun: str) -> str:
    """A count and its noun.

    Args:
        n: the count.
        noun: what is counted, in the singular.

    Returns:
        ``"1 face"``, ``"2 faces"``.
    """
    return f"{n} {noun}{'' if n == 1 else 's'}"


def failure_line(path: str, why: str) -> str:
    """The terminal's line for an input that failed.

    Args:
        path: the input.
        why: its first error.

    Returns:
        The line, its path and reason escaped (:func:`batchface.errors.printable`).
    """
    return f"batchface: failed: {printable(path)}: {printable(why)}"
