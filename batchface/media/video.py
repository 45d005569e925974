"""Video decoding (PyAV, FFmpeg): each frame's place in the video and its presentation time.

A video's frames are known by their :class:`Timeline`, read from the container's packets before
any frame is decoded (demuxing, not decoding):

- ``frame_index``: the frame's position in display (presentation) order from the video's first
  frame, 0-based; the same whether the video is read whole or in pieces, and whatever cannot be decoded.
- ``timestamp_s``: when a player shows the frame, in seconds: its presentation timestamp (pts x
  time base) minus the container's start time, so that an edit list, or a video that starts after
  its audio, gives the times a player shows.

A piece of a video (frames ``start`` to ``stop``) is found by presentation time: the reader seeks to
the keyframe before the piece's first frame, decodes forward and keeps the frames whose pts are the
piece's, never trusting a decoder's idea of where it is. Frames that cannot be decoded (damage,
a file that ends early) are told by :attr:`VideoReader.problems`, never hidden nor relabelled.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from batchface.errors import InputError

#: a gap between two frames of a container that has no full index (Matroska, WebM) longer than this
#: many typical frame durations is frames the demuxer skipped over damage, not a slower rate
HOLE_GAPS = 2.5


#: FFmpeg's names of the containers whose index lists every frame, read or not (MP4 and MOV, AVI)
LISTS_EVERY_FRAME = ("mov,mp4,m4a,3gp,3g2,mj2", "avi")


def clock(seconds: float) -> str:
    """``seconds`` as a player shows them: ``m:ss.ss``."""
    return f"{int(seconds // 60)}:{seconds % 60:05.2f}"


@dataclass
class Frame:
    """One sampled video frame: ``index`` its position in display order (0-based), ``timestamp_s``
    its presentation time in seconds on the player's timeline, ``image`` 8-bit BGR with the display
    rotation applied, ``sample``: 0 for the video's first sampled frame, 1 for the next, ..."""

    index: int
    timestamp_s: float
    image: np.ndarray
    sample: int = 0


@dataclass
class Problem:
    """Frames that could not be decoded: the first one's ``index`` (None: after the last frame the
    file has) and presentation time ``timestamp_s``, and a one-line ``message``."""

    index: int | None
    timestamp_s: float | None
    message: str


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


def _stream_of(container):
    if not container.streams.video:
        raise InputError("no video stream")
    return container.streams.video[0]


def _open(path):
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


def timeline_of(path) -> Timeline:
    """The :class:`Timeline` of the video at ``path``, read once a process while the file is unchanged:
    a worker given several pieces of one video demuxes it once, not once a piece."""
    status = os.stat(path)
    return _timeline_of(os.path.realpath(path), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _timeline_of(path: str, size: int, modified_ns: int) -> Timeline:
    container, stream = _open(path)
    with container:
        return read_timeline(container, stream)


def _index_of_avi(container, stream) -> dict | None:
    """An AVI's index when it lists every frame its header counts, by packet position: the demuxer
    counts packets to time them, which after damage labels every later frame too early."""
    entries = stream.index_entries
    if container.format.name != "avi" or not len(entries) or len(entries) < (stream.frames or 0):
        return None
    return {entry.pos + 8: entry.timestamp for entry in entries}  # 8: the chunk's header


def read_timeline(container, stream) -> Timeline:
    """Demux the whole stream (no decoding) into its :class:`Timeline`."""
    by_position = _index_of_avi(container, stream)
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
    origin = round(Fraction(container.start_time or 0, 1_000_000) / stream.time_base)
    origin = min(origin, int(times[0])) if len(times) else origin
    timeline = Timeline(times, listed, stream.time_base, origin, delay, max(step, 1))
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


def _declared_end(container, stream, timeline: Timeline) -> float | None:
    """Where the header says the video ends (seconds, player's timeline): the later of the stream's
    duration and, in an AVI (a constant rate), its frame count; else the container's duration when
    the video is its only stream."""
    tb, ends = stream.time_base, []
    if stream.duration and stream.start_time is not None:
        ends.append(float((stream.start_time + stream.duration - timeline.origin) * tb))
    if container.format.name == "avi" and stream.frames and len(timeline):
        ends.append(float((int(timeline.pts[0]) + stream.frames * timeline.step - timeline.origin) * tb))
    if not ends and container.duration and len(container.streams) == 1:
        ends.append((container.duration + (container.start_time or 0)) / 1_000_000 - float(timeline.origin * tb))
    return max(ends, default=None)


class VideoReader:
    """Stream the sampled frames of a video; never holds more than one decoded frame.

    Sampling: ``every`` keeps frames 0, N, 2N, ...; ``fps`` keeps the first frame at or after each
    multiple of 1/fps seconds of presentation time; ``max_frames`` stops after that many sampled
    frames. ``start`` and ``stop`` bound the frame indices read (``stop`` None: to the end); whether
    a frame is sampled, and its sample number, do not depend on them. Raises :class:`InputError`
    for a file that is not a video.
    """

    def __init__(
        self,
        path,
        every: int = 1,
        fps: float | None = None,
        max_frames: int | None = None,
        start: int = 0,
        stop: int | None = None,
    ):
        if not os.path.exists(path):
            raise InputError("file not found" if not os.path.islink(path) else "broken symbolic link")
        if os.path.getsize(path) == 0:
            raise InputError("empty file")
        self.path, self.every, self.fps = path, max(1, every), fps
        container, stream = _open(path)
        with container:
            rate = stream.average_rate or stream.guessed_rate
            self.width, self.height = stream.codec_context.width, stream.codec_context.height
        self.timeline = timeline_of(path)
        self.native_fps = float(rate) if rate else 1 / float(self.timeline.step * self.timeline.time_base)
        self.sampled = self._sampled(self.timeline.times)
        self.samples = np.cumsum(self.sampled) - 1  # each frame's sample number (of the last sampled frame up to it)
        if max_frames is not None and self.sampled.sum() > max_frames:
            last = int(np.searchsorted(self.samples, max_frames - 1)) + 1
            stop = last if stop is None else min(stop, last)
        self.start, self.stop = start, min(stop if stop is not None else len(self.timeline), len(self.timeline))
        #: what could not be decoded, known once the frames are read
        self.problems: list[Problem] = []

    def _sampled(self, times: np.ndarray) -> np.ndarray:
        """Which frames are sampled: by index (``every``) or by presentation time (``fps``)."""
        if not len(times):
            return np.zeros(0, bool)
        if not self.fps:
            return np.arange(len(times)) % self.every == 0
        passed = np.floor(times * self.fps + 1e-6)  # how many sampling times are at or before each frame
        return np.concatenate([[True], passed[1:] > passed[:-1]])

    @property
    def sample_fps(self) -> float:
        """Frames per second of the sampled stream (for an annotated video)."""
        return min(self.fps, self.native_fps) if self.fps else self.native_fps / self.every

    @property
    def kept(self) -> np.ndarray:
        """The indices of the sampled frames read, in order."""
        return self.start + np.flatnonzero(self.sampled[self.start : self.stop])

    def __iter__(self) -> Iterator[Frame]:
        if self.start >= self.stop:
            return
        # the frame before the piece and those after it are decoded too, as far as need be, to tell
        # whether a span of lost frames begins before the piece or goes on after it
        first = max(0, self.start - 1)
        pts, listed = self.timeline.pts, self.timeline.listed
        wanted = {int(pts[i]): i for i in range(first, len(self.timeline)) if listed[i]}
        decoded: set[int] = set()
        try:
            for index, frame in _decode(self.path, self.timeline, first, wanted):
                decoded.add(index)
                if index >= self.stop:
                    break
                if index >= self.start and self.sampled[index]:
                    yield self._frame(index, frame)
        finally:
            self.problems = self._losses(decoded)

    def _frame(self, index: int, frame) -> Frame:
        image = bgr(frame)
        turns = round((frame.rotation or 0) / 90) % 4  # the display matrix: counter-clockwise quarter turns
        if turns:
            image = np.ascontiguousarray(np.rot90(image, turns))
        self.height, self.width = image.shape[:2]
        return Frame(index, float(self.timeline.times[index]), image, int(self.samples[index]))

    def _losses(self, decoded: set[int]) -> list[Problem]:
        """The spans of lost frames that begin in [start, stop), each told whole (to the next frame
        decoded, or the end); and a file that ends before its header says, told by the last piece."""
        count, times = len(self.timeline), self.timeline.times
        after = next((i for i in sorted(decoded) if i >= self.stop), count)
        spans = _runs([i for i in range(self.start, after) if i not in decoded])
        begun_before = self.start > 0 and self.start - 1 not in decoded  # the previous piece tells it
        ours = [(a, b) for a, b in spans if a < self.stop and not (a == self.start and begun_before)]
        declared, problems = self.timeline.declared_end_s, []
        for a, b in ours:
            if b == count - 1 and declared is not None:
                ends = max(declared, self.timeline.end_s)
                message = f"the file ends at {clock(times[a])} of {clock(ends)}: {_frames(a, b)} could not be decoded"
            else:
                message = f"{_frames(a, b)} could not be decoded ({clock(times[a])} to {clock(times[b])})"
            problems.append(Problem(a, float(times[a]), message))
        step_s = float(self.timeline.step * self.timeline.time_base)
        short = declared is not None and declared - self.timeline.end_s > max(0.5, 2 * step_s)
        if short and self.stop == count and not (spans and spans[-1][1] == count - 1):
            problems.append(Problem(None, None, f"the file ends at {clock(self.timeline.end_s)} of {clock(declared)}"))
        return problems


def bgr(frame) -> np.ndarray:
    """A PyAV frame as 8-bit BGR. The common YUV 4:2:0 (limited range, BT.601 as FFmpeg assumes
    when a stream does not say) is converted by OpenCV: 2.2 times the frames/s of FFmpeg's own
    conversion here (reports/video.md, 2026-12-06)."""
    if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
        return cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2BGR_I420)
    return frame.to_ndarray(format="bgr24")


def _frames(a: int, b: int) -> str:
    return f"frame {a}" if a == b else f"frames {a}-{b}"


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted ``indices`` as (first, last) pairs."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _decode(path, timeline: Timeline, first: int, wanted: dict) -> Iterator[tuple[int, object]]:
    """(index, PyAV frame) of the frames from ``first`` on that decode whole, in display order,
    each once; only those of ``wanted`` (pts: index). After a decoding error or a corrupt frame,
    frames are dropped until the next keyframe: what a decoder shows there is made of pictures it
    does not have."""
    container, stream = _open(path)
    with container:
        if first:  # the keyframe before: its decoding starts up to ``delay`` before its time
            container.seek(max(0, int(timeline.pts[first]) - timeline.delay), stream=stream)
        by_position = _index_of_avi(container, stream)
        state = {"broken": False, "seen": set(), "listed": set(wanted.values()) | {first - 1}}
        for packet in container.demux(stream):
            if packet.size and by_position is not None:
                packet.pts = by_position.get(packet.pos)
                if packet.pts is None:  # a packet the index does not know: no time to give it
                    state["broken"] = True
                    continue
            yield from _whole(_decoded(stream, packet, state), wanted, state)
        yield from _whole(_decoded(stream, None, state), wanted, state)  # what the decoder still holds


def _decoded(stream, packet, state: dict) -> list:
    import av

    try:
        return stream.codec_context.decode(packet)
    except av.error.EOFError:
        return []
    except av.error.FFmpegError:
        state["broken"] = True
        return []


def _whole(frames, wanted: dict, state: dict) -> Iterator[tuple[int, object]]:
    for frame in frames:
        if frame.is_corrupt:
            state["broken"] = True
            continue
        index = wanted.get(frame.pts)
        # a frame after frames the demuxer skipped is whole only if it is a keyframe
        follows_hole = index is not None and index - 1 not in state["listed"]
        state["broken"] = (state["broken"] or follows_hole) and not frame.key_frame
        if state["broken"] or index is None or index in state["seen"]:
            continue
        state["seen"].add(index)
        yield index, frame
