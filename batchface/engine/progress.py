"""The progress bar of a run: frames as the workers read them, and beside them inputs and faces."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from batchface.engine.summary import Summary

if TYPE_CHECKING:
    from tqdm import tqdm


class ProgressLine:
    """The progress bar's counts: frames as the workers read them (the bar), and beside it the inputs
    committed and the faces found so far, counted as the workers find them (a long video's too).

    Args:
        bar: the progress bar (``tqdm``).
        summary: the run's summary, counting the inputs committed.
        inputs: the run's inputs.
    """

    def __init__(self, bar: tqdm, summary: Summary, inputs: int):
        self.bar, self.summary, self.inputs = bar, summary, inputs
        self.faces, self.start = 0, time.monotonic()

    def heard(self, news: tuple[int, int]) -> None:
        """Count what a worker read.

        Args:
            news: (frames, faces): images and video frames read, and the faces found in them.
        """
        frames, faces = news
        self.faces += faces
        self.show(refresh=False)
        self.bar.update(frames)

    def show(self, refresh: bool = False) -> None:
        """Write the counts beside the bar.

        Args:
            refresh: draw the bar now, not at its next update.
        """
        rate = self.faces / max(time.monotonic() - self.start, 1e-9)
        self.bar.set_postfix(
            inputs=f"{self.summary.done}/{self.inputs}", faces=self.faces, faces_per_s=f"{rate:.1f}", refresh=refresh
        )
