"""Planning a run: the inputs cut into units of work, grouped into the tasks that workers take.

Images travel to a worker in small groups (fewer messages, bigger model batches); a video is cut
into pieces of about :data:`SEGMENT_FRAMES` source frames, so that workers share a long video and a
killed run loses at most a piece of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from batchface.decoding import VideoReader
from batchface.errors import InputError
from batchface.inputs import Source

IMAGES_PER_TASK = 8
SEGMENT_FRAMES = 1500  # a minute at 25 frames a second


@dataclass(frozen=True)
class Work:
    """One unit of work: an image, a whole video, or the source frames [start, stop) of a video
    (``stop`` None: to the end, the input's last piece)."""

    source: Source
    start: int = 0
    stop: int | None = None

    @property
    def key(self) -> tuple:
        """What names it in the output's journal (:mod:`batchface.journal`)."""
        return (self.source.path, self.start, self.stop)

    @property
    def last(self) -> bool:
        return self.stop is None


def plan(sources: list[Source], options) -> list[Work]:
    """Each video cut into pieces of about :data:`SEGMENT_FRAMES` frames (by its header's frame
    count), each starting at a keyframe (a sampled frame whose number is a multiple of
    ``options.detect_every``: :class:`batchface.tracking.Tracker`), so that the rows do not depend on
    the cutting.

    A video that cannot be opened stays whole (its worker writes the error row); so does every video
    when annotated copies are asked for, since one worker writes one annotated file.
    """
    works = []
    for source in sources:
        if source.media_type != "video" or options.annotate:
            works.append(Work(source))
            continue
        try:
            reader = VideoReader(source.path, options.every, options.fps, options.max_frames)
            reader.capture.release()
        except InputError:
            works.append(Work(source))
            continue
        frames = reader.frame_count if reader.stop is None else min(reader.frame_count, reader.stop)
        samples = SEGMENT_FRAMES * reader.sample_fps / reader.native_fps  # sampled frames in a piece
        step = options.detect_every * max(1, round(samples / options.detect_every))
        starts = [0]
        while reader.index_of_sample(len(starts) * step) < frames:
            starts.append(reader.index_of_sample(len(starts) * step))
        works += [Work(source, a, b) for a, b in zip(starts, starts[1:] + [None])]
    return works


def tasks_of(works: list[Work]) -> Iterator[list[Work]]:
    """Consecutive images in tasks of :data:`IMAGES_PER_TASK`; each piece of video a task of its own."""
    group: list[Work] = []
    for work in works:
        if work.source.media_type == "video":
            if group:
                yield group
                group = []
            yield [work]
        else:
            group.append(work)
            if len(group) == IMAGES_PER_TASK:
                yield group
                group = []
    if group:
        yield group
