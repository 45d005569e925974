"""A video's frames as its container lists them: each one's place and presentation time.

A video's frames are known by their :class:`Timeline`, read from the container's packets before
any frame is decoded (demuxing, not decoding):

- ``frame_index``: the frame's position in display (presentation) order from the video's first
  frame, 0-based; the same whether the video is read whole or in pieces, and whatever cannot be decoded.
- ``timestamp_s``: when a player shows the frame, in seconds: its presentation timestamp (pts x
  time base) minus the container's start time, so that an edit list, or a video that starts after
  its audio, gives the times a player shows.

Decoding the frames is :mod:`batchface.media.video`.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from batchface.errors import InputError

if TYPE_CHECKING:  # PyAV is imported when a video is opened: a run of images never loads FFmpeg
    from av.container import InputContainer
    from av.video.stream import VideoStream

#: a gap between two frames of a container that has no full index (Matroska, WebM) longer than this
#: many typical frame durations is frames the demuxer skipped over damage, not a slower rate
HOLE_GAPS = 2.5

#: FFmpeg's names of the containers whose index lists every frame, read or not (MP4 and MOV, AVI)
LISTS_EVERY_FRAME = ("mov,mp4,m4a,3gp,3g2,mj2", "avi")


@dataclass
class Timeline:
    """The frames of a video stream as its container lists them, in display order.

    ``pts``: each frame's presentation timestamp in ``time_base`` units (int64); ``listed``: False
    for a frame estimated in a hole that the demuxer skipped (damage in a container without a full
    index); ``origin``: the container's start, ``time_base`` units; ``delay``: the most a frame's
    decoding starts before its presentation (B-frames), ``step`` a typical frame's duration (both
    ``time_base`` units); ``declared_end_s``: where the header says the video ends, seconds on the
    player's timeline (None: it does not say).
    """

    pts: np.ndarray
    listed: np.ndarray
    time_base: Fraction
    origin: int = 0
    delay: int = 0
    step: int = 1
    declared_end_s: float | None = None

    def __len__(self) -> int:
        return len(self.pts)

    @property
    def times(self) -> np.ndarray:
        """Each frame's ``timestamp_s``."""
        return (self.pts - self.origin).astype(np.float64) * float(self.time_base)

    @property
    def end_s(self) -> float:
        """Where the frames listed end, seconds on the player's timeline."""
        return float((int(self.pts[-1]) + self.step - self.origin) * self.time_base) if len(self) else 0.0


def _stream_of(container: InputContainer) -> VideoStream:
    if not container.streams.video:
        raise InputError("no video stream")
    return container.streams.video[0]


def open_video(path: str | os.PathLike) -> tuple[InputContainer, VideoStream]:
    """Open a video file with PyAV, FFmpeg's logging silenced.

    Args:
        path: the video file.

    Returns:
        The open container (the caller closes it) and its first video stream.

    Raises:
        InputError: the file is not a decodable video, or has no video stream.
    """
    import av

    av.logging.set_level(av.logging.PANIC)  # damage is told in rows, not on the terminal
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError):
        raise InputError("not a decodable video (corrupt or unsupported)") from None
    try:
        return container, _stream_of(container)
    except InputError:
        container.close()
        raise


def timeline_of(path: str | os.PathLike) -> Timeline:
    """The :class:`Timeline` of a video, read once a process while the file is unchanged: a worker
    given several pieces of one video demuxes it once, not once a piece.

    Args:
        path: the video file.

    Returns:
        Its frames as its container lists them.

    Raises:
        InputError: the file is not a decodable video, or has no video stream.
    """
    status = os.stat(path)
    return _timeline_of(os.path.realpath(path), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _timeline_of(path: str, size: int, modified_ns: int) -> Timeline:
    container, stream = open_video(path)
    with container:
        return read_timeline(container, stream)


def index_of_avi(container: InputContainer, stream: VideoStream) -> dict[int, int] | None:
    """An AVI's index, when it lists every frame its header counts: the demuxer counts packets to
    time them, which after damage labels every later frame too early.

    Args:
        container: the open file.
        stream: its video stream.

    Returns:
        Each packet's presentation timestamp (``time_base`` units) by its position in the file
        (bytes); None for another container, or an index that lacks frames.
    """
    entries = stream.index_entries
    if container.format.name != "avi" or not len(entries) or len(entries) < (stream.frames or 0):
        return None
    return {entry.pos + 8: entry.timestamp for entry in entries}  # 8: the chunk's header


def read_timeline(container: InputContainer, stream: VideoStream) -> Timeline:
    """Demux the whole stream (no decoding) into its :class:`Timeline`.

    Args:
        container: the open file, read from its start.
        stream: its video stream.

    Returns:
        The stream's frames, in display order.
    """
    by_position = index_of_avi(container, stream)
    pts, delay = list((by_position or {}).values()), 0
    for packet in container.demux(stream) if by_position is None else ():
        if packet.size == 0 or packet.is_discard:  # the end, or frames an edit list cuts off
            continue
        at = packet.pts if packet.pts is not None else packet.dts
        if at is None:
            continue
        pts.append(at)
        if packet.dts is not None:
            delay = max(delay, at - packet.dts)
    times = np.unique(np.asarray(pts, np.int64))
    gaps = np.diff(times)
    step = int(np.median(gaps)) if len(gaps) else 1
    listed = np.ones(len(times), bool)
    if container.format.name not in LISTS_EVERY_FRAME and len(gaps):
        times, listed = _fill_holes(times, gaps, step)
    time_base = stream.time_base
    assert time_base is not None, "FFmpeg gives every stream it demuxes a time base"
    origin = round(Fraction(container.start_time or 0, 1_000_000) / time_base)
    origin = min(origin, int(times[0])) if len(times) else origin
    timeline = Timeline(times, listed, time_base, origin, delay, max(step, 1))
    timeline.declared_end_s = _declared_end(container, stream, timeline)
    return timeline


def _fill_holes(times: np.ndarray, gaps: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames estimated, a ``step`` apart, in the gaps over :data:`HOLE_GAPS` steps long."""
    holes = np.flatnonzero(gaps > HOLE_GAPS * step)
    if not len(holes):
        return times, np.ones(len(times), bool)
    filled, listed, last = [], [], 0
    for h in holes:
        filled.append(times[last : h + 1])
        listed.append(np.arange(last, h + 1) < h)  # the frame before a hole: its data ran into the damage
        missing = int(round(gaps[h] / step)) - 1
        filled.append(times[h] + step * np.arange(1, missing + 1, dtype=np.int64))
        listed.append(np.zeros(missing, bool))
        last = h + 1
    filled.append(times[last:])
    listed.append(np.ones(len(times) - last, bool))
    return np.concatenate(filled), np.concatenate(listed)


def _declared_end(container: InputContainer, stream: VideoStream, timeline: Timeline) -> float | None:
    """Where the header says the video ends (seconds, player's timeline): the later of the stream's
    duration and, in an AVI (a constant rate), its frame count; else the container's duration when
    the video is its only stream."""
    tb, ends = timeline.time_base, []
    if stream.duration and stream.start_time is not None:
        ends.append(float((stream.start_time + stream.duration - timeline.origin) * tb))
    if container.format.name == "avi" and stream.frames and len(timeline):
        ends.append(float((int(timeline.pts[0]) + stream.frames * timeline.step - timeline.origin) * tb))
    if not ends and container.duration and len(container.streams) == 1:
        ends.append((container.duration + (container.start_time or 0)) / 1_000_000 - float(timeline.origin * tb))
    return max(ends, default=None)
