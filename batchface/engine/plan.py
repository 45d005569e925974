"""Planning a run: the inputs cut into units of work, grouped into the tasks that workers take.

Images travel to a worker in small groups (fewer messages, bigger model batches); a video is cut
into pieces (:func:`plan`), so that workers share even a short video and a killed run loses at most a
piece of it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from batchface.errors import InputError
from batchface.faces.tracking import is_keyframe
from batchface.media.inputs import Source
from batchface.media.video import VideoReader
from batchface.options import Options
from batchface.output.journal import key_of
from batchface.vocabulary import MediaType

#: a task's images: 16 small video frames fill the models' batches better than 8 (1.08 times the
#: frames/s, reports/speed-levers.md); fewer when their files pass TASK_BYTES, so that a task of large
#: photos stays small in a worker's memory (a JPEG decodes to about ten times its file's size)
IMAGES_PER_TASK = 16
TASK_BYTES = 16 * 2**20
SEGMENT_FRAMES = 1500  # a minute at 25 frames a second
#: a video is cut into this many pieces, so that as many workers share it...
PIECES = 16
#: ... but a piece is not shorter than this many frames (a second at 25 frames a second): each piece
#: is found by seeking to a keyframe, and the tracks it opens are matched to the previous piece's
MIN_PIECE_FRAMES = 25


@dataclass(frozen=True)
class Work:
    """One unit of work: an image, a whole video, or the frames [start, stop) of a video, by
    ``frame_index`` (``stop`` None: to the end, the input's last piece). ``frames``: the sampled
    frames it has, by the video's packets (an image, or a video that cannot be opened: 1)."""

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
        """Whether it runs to the input's end: a whole input, or a video's last piece."""
        return self.stop is None


def plan(sources: list[Source], options: Options) -> list[Work]:
    """Each video cut into :data:`PIECES` pieces, or pieces of :data:`SEGMENT_FRAMES` frames if
    that makes more, but none under :data:`MIN_PIECE_FRAMES`; each starts at a keyframe
    (:func:`batchface.faces.tracking.is_keyframe`), so that the rows do not depend on the cutting. The
    cutting depends on the video and the sampling alone (not on the workers), so that ``--resume``
    finds the pieces it had. Frames are counted from the video's packets
    (:class:`batchface.media.timeline.Timeline`), not its header. A video that cannot be opened stays
    whole (its worker writes the error row).

    Args:
        sources: the run's inputs, in order.
        options: the run's sampling (``every``, ``fps``, ``max_frames``) and ``detect_every``.

    Returns:
        The units of work, in input order: each image whole, each video in pieces in frame order.
    """
    works = []
    for source in sources:
        if source.media_type != MediaType.video:
            works.append(Work(source))
            continue
        try:
            reader = VideoReader(source.path, options.every, options.fps, options.max_frames)
        except InputError:
            works.append(Work(source))
            continue
        kept, step = reader.kept, _step(reader, options.detect_every)
        keyframes = [int(i) for i in kept if is_keyframe(int(reader.samples[i]), options.detect_every)]
        starts = keyframes[:: step // options.detect_every] or [0]
        stops = starts[1:] + [None]
        sizes = [len(kept[k : k + step]) for k in range(0, max(len(kept), 1), step)]
        works += [Work(source, a, b, n) for a, b, n in zip(starts, stops, sizes)]
    return works


def _step(reader: VideoReader, detect_every: int) -> int:
    """Sampled frames in a piece: a multiple of ``detect_every``."""
    per_frame = reader.sample_fps / reader.native_fps  # sampled frames a frame, about
    longest = SEGMENT_FRAMES * per_frame
    shortest = MIN_PIECE_FRAMES * per_frame
    samples = min(longest, max(shortest, len(reader.kept) / PIECES))
    return detect_every * max(1, math.ceil(samples / detect_every - 1e-9))


def tasks_of(works: list[Work]) -> Iterator[list[Work]]:
    """Consecutive images in tasks of :data:`IMAGES_PER_TASK`, or fewer whose files add up to
    :data:`TASK_BYTES`; each piece of video a task of its own.

    Args:
        works: units of work, in order (:func:`plan`).

    Yields:
        The tasks, in order: lists of consecutive units.
    """
    group: list[Work] = []
    size = 0
    for work in works:
        if work.source.media_type == MediaType.video:
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


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:  # gone or unreadable: its worker says so in its error row
        return 0
