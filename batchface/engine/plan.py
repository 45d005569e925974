"""Planning a run: the inputs cut into units of work, grouped into the tasks that workers take.

Images travel to a worker in small groups (fewer messages, bigger model batches); a video is cut
into pieces of about :data:`SEGMENT_FRAMES` source frames, so that workers share a long video and a
killed run loses at most a piece of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from batchface.errors import InputError
from batchface.media.decoding import VideoReader
from batchface.media.inputs import Source
from batchface.output.journal import key_of

#: a task's images: 16 small video frames fill the models' batches better than 8 (1.08 times the
#: frames/s, reports/speed-levers.md); fewer when their files pass TASK_BYTES, so that a task of large
#: photos stays small in a worker's memory (a JPEG decodes to about ten times its file's size)
IMAGES_PER_TASK = 16
TASK_BYTES = 16 * 2**20
SEGMENT_FRAMES = 1500  # a minute at 25 frames a second


@dataclass(frozen=True)
class Work:
    """One unit of work: an image, a whole video, or the source frames [start, stop) of a video
    (``stop`` None: to the end, the input's last piece). ``frames``: the sampled frames it is
    expected to have, by the video's header (an image, or a video that cannot be opened: 1)."""

    source: Source
    start: int = 0
    stop: int | None = None
    frames: int = field(default=1, compare=False)

    @cached_property  # looked up several times a unit; os.path.realpath asks the file system
    def key(self) -> tuple:
        """What names it in the output's journal (:mod:`batchface.output.journal`): its real path first."""
        return (key_of(self.source.path), self.start, self.stop)

    @property
    def last(self) -> bool:
        return self.stop is None


def plan(sources: list[Source], options) -> list[Work]:
    """Each video cut into pieces of about :data:`SEGMENT_FRAMES` frames (by its header's frame
    count), each starting at a keyframe (a sampled frame whose number is a multiple of
    ``options.detect_every``: :class:`batchface.faces.tracking.Tracker`), so that the rows do not depend on
    the cutting.

    A video that cannot be opened stays whole (its worker writes the error row); so does every video
    when annotated copies are asked for, since one worker writes one annotated file.
    """
    works = []
    for source in sources:
        if source.media_type != "video":
            works.append(Work(source))
            continue
        try:
            reader = VideoReader(source.path, options.every, options.fps, options.max_frames)
            reader.capture.release()
        except InputError:
            works.append(Work(source))
            continue
        frames = reader.frame_count if reader.stop is None else min(reader.frame_count, reader.stop)
        total = reader.sample_of(frames - 1) + 1 if frames else 0  # sampled frames of the video
        step = total  # sampled frames in a piece: the whole video, or about SEGMENT_FRAMES source frames
        if not options.annotate:
            samples = SEGMENT_FRAMES * reader.sample_fps / reader.native_fps
            step = options.detect_every * max(1, round(samples / options.detect_every))
        starts = list(range(0, total, step or 1)) or [0]
        stops = [reader.index_of_sample(k) for k in starts[1:]] + [None]
        sizes = [min(step, total - k) for k in starts]
        works += [Work(source, reader.index_of_sample(k), b, n) for k, b, n in zip(starts, stops, sizes)]
    return works


def tasks_of(works: list[Work]) -> Iterator[list[Work]]:
    """Consecutive images in tasks of :data:`IMAGES_PER_TASK`, or fewer whose files add up to
    :data:`TASK_BYTES`; each piece of video a task of its own."""
    group: list[Work] = []
    size = 0
    for work in works:
        if work.source.media_type == "video":
            if group:
                yield group
                group, size = [], 0
            yield [work]
        else:
            group.append(work)
            size += _file_size(work.source.path)
            if len(group) == IMAGES_PER_TASK or size >= TASK_BYTES:
                yield group
                group, size = [], 0
    if group:
        yield group


def _file_size(path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:  # gone or unreadable: its worker says so in its error row
        return 0
