"""Video decoding (PyAV, FFmpeg): the sampled frames of a video, or of a piece of it.

Each frame is known by its place in its video's :class:`~batchface.media.timeline.Timeline`
(``frame_index``, display order from 0) and its presentation time (``timestamp_s``, seconds on the
player's timeline), read from the container's packets before any frame is decoded.

A piece of a video (frames ``start`` to ``stop``) is found by presentation time: the reader seeks to
the keyframe before the piece's first frame, decodes forward and keeps the frames whose pts are the
piece's, never trusting a decoder's idea of where it is. Frames that cannot be decoded (damage,
a file that ends early) are told by :attr:`VideoReader.problems`, never hidden nor relabelled.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from batchface.errors import InputError
from batchface.media.timeline import Timeline, index_of_avi, open_video, timeline_of

if TYPE_CHECKING:  # PyAV is imported when a video is opened
    from av.packet import Packet
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

__all__ = ["Frame", "Problem", "Timeline", "VideoReader", "bgr", "clock"]


def clock(seconds: float) -> str:
    """Seconds as a player shows them.

    Args:
        seconds: a time, seconds.

    Returns:
        ``m:ss.ss``.
    """
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


class VideoReader:
    """Stream the sampled frames of a video; never holds more than one decoded frame.

    Sampling: ``every`` keeps frames 0, N, 2N, ...; ``fps`` keeps the first frame at or after each
    multiple of 1/fps seconds of presentation time; ``max_frames`` stops after that many sampled
    frames. ``start`` and ``stop`` bound the frame indices read; whether a frame is sampled, and its
    sample number, do not depend on them.

    Args:
        path: the video file.
        every: keep every Nth frame (1: all).
        fps: keep this many frames a second of presentation time instead (None: by ``every``).
        max_frames: stop after this many sampled frames (None: no limit).
        start: the first frame index read.
        stop: the frame index where reading stops, not read (None: to the end).

    Raises:
        InputError: the file is missing, empty, not a decodable video, or has no video stream.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        every: int = 1,
        fps: float | None = None,
        max_frames: int | None = None,
        start: int = 0,
        stop: int | None = None,
    ) -> None:
        if not os.path.exists(path):
            raise InputError("file not found" if not os.path.islink(path) else "broken symbolic link")
        if os.path.getsize(path) == 0:
            raise InputError("empty file")
        self.path, self.every, self.fps = path, max(1, every), fps
        container, stream = open_video(path)
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
        """The sampled frames of [start, stop), in display order; :attr:`problems` once they are read."""
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

    def _frame(self, index: int, frame: VideoFrame) -> Frame:
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
        if declared is None or declared - self.timeline.end_s <= max(0.5, 2 * step_s):
            return problems  # the file is as long as its header says, or its header does not say
        if self.stop == count and not (spans and spans[-1][1] == count - 1):
            problems.append(Problem(None, None, f"the file ends at {clock(self.timeline.end_s)} of {clock(declared)}"))
        return problems


def bgr(frame: VideoFrame) -> np.ndarray:
    """A PyAV frame as 8-bit BGR. The common YUV 4:2:0 (limited range, BT.601 as FFmpeg assumes
    when a stream does not say) is converted by OpenCV: 2.2 times the frames/s of FFmpeg's own
    conversion here (reports/video.md, 2026-12-06).

    Args:
        frame: a decoded video frame, any pixel format.

    Returns:
        Its pixels, [H, W, 3] uint8 BGR (the display rotation not applied).
    """
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


def _decode(
    path: str | os.PathLike, timeline: Timeline, first: int, wanted: dict[int, int]
) -> Iterator[tuple[int, VideoFrame]]:
    """(index, PyAV frame) of the frames from ``first`` on that decode whole, in display order,
    each once; only those of ``wanted`` (pts: index). After a decoding error or a corrupt frame,
    frames are dropped until the next keyframe: what a decoder shows there is made of pictures it
    does not have."""
    container, stream = open_video(path)
    with container:
        if first:  # the keyframe before: its decoding starts up to ``delay`` before its time
            container.seek(max(0, int(timeline.pts[first]) - timeline.delay), stream=stream)
        by_position = index_of_avi(container, stream)
        state = {"broken": False, "seen": set(), "listed": set(wanted.values()) | {first - 1}}
        for packet in container.demux(stream):
            if packet.size and by_position is not None:
                packet.pts = None if packet.pos is None else by_position.get(packet.pos)
                if packet.pts is None:  # a packet the index does not know: no time to give it
                    state["broken"] = True
                    continue
            yield from _whole(_decoded(stream, packet, state), wanted, state)
        yield from _whole(_decoded(stream, None, state), wanted, state)  # what the decoder still holds


def _decoded(stream: VideoStream, packet: Packet | None, state: dict) -> list[VideoFrame]:
    import av

    try:
        return stream.codec_context.decode(packet)
    except av.error.EOFError:
        return []
    except av.error.FFmpegError:
        state["broken"] = True
        return []


def _whole(frames: list[VideoFrame], wanted: dict[int, int], state: dict) -> Iterator[tuple[int, VideoFrame]]:
    for frame in frames:
        if frame.is_corrupt:
            state["broken"] = True
            continue
        index = None if frame.pts is None else wanted.get(frame.pts)
        # a frame after frames the demuxer skipped is whole only if it is a keyframe
        follows_hole = index is not None and index - 1 not in state["listed"]
        state["broken"] = (state["broken"] or follows_hole) and not frame.key_frame
        if state["broken"] or index is None or index in state["seen"]:
            continue
        state["seen"].add(index)
        yield index, frame
