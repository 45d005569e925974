"""Face tracks in a video: which face of one sampled frame is which face of the next.

A face continues the track whose last box it overlaps most, unless the track has been unseen too
long or a scene cut lies between (:mod:`batchface.faces.continuity`); else it starts a new track.

A worker tracks the faces of its piece of a video (:class:`Tracker`, ids 0, 1, ... in the order of
their first appearance in the piece); whoever commits the pieces in order (the runner) renumbers them
for the whole video (:class:`VideoTracks`), continuing across the boundary the tracks that the
previous piece ended with. So ids are unique within a video, in order of first appearance, and a
person visible across a boundary keeps one id, also after ``--resume`` (the state between pieces
is journalled with them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from batchface.faces.boxes import Box, Detections, iou, nms
from batchface.faces.continuity import GAP_S, MIN_IOU, Sighting, colours, is_cut, match

if TYPE_CHECKING:
    from batchface.faces.detection import FaceDetector
    from batchface.media.video import Frame


def is_keyframe(sample: int, detect_every: int) -> bool:
    """Whether a sampled frame is a keyframe, where :class:`Tracker` searches the whole frame for faces.

    Between keyframes it looks only around the faces it follows, which is cheaper; new faces are
    found at the next keyframe. The rule depends on the sample number alone, and a video's pieces
    start at keyframes (:func:`batchface.engine.plan.plan`), so that every frame is searched the same
    way however the video is cut, and the rows do not depend on the cutting.

    Args:
        sample: the frame's sample number (0 for the video's first sampled frame).
        detect_every: K, the sampled frames from one keyframe to the next.

    Returns:
        True for sampled frames 0, K, 2K, ...
    """
    return sample % detect_every == 0


@dataclass
class PieceTracks:
    """What the renumbering needs of a piece's tracks: the first sampled frame's colours and the
    sighting that opened each track (``head``), the last frame's colours and each track's last
    sighting (``tail``), and how many tracks the piece had. Ids are the piece's own."""

    first_colours: list[float]
    last_colours: list[float]
    head: list[Sighting]
    tail: list[Sighting]
    count: int


class Tracker:
    """The faces of one piece of a video, sampled frame after sampled frame, and their track ids.

    ``detector`` (:mod:`batchface.faces.detection`) runs on the whole frame on keyframes: sampled frames
    0, K, 2K, ... of the video (K = ``detect_every``; a video is cut for the workers at keyframes, so
    that its rows do not depend on how it was cut), the first of a piece, a frame after a scene cut,
    and a frame where a tracked face is lost. Between them it looks again only around the faces of
    the previous sampled frame (``detector.detect_near``; where a detector does not, it runs on every frame):
    a face is lost there when no face overlaps its box by :data:`MIN_IOU`. New faces are found at
    the next keyframe (:func:`is_keyframe`).

    Args:
        detector: what finds the faces (None: the caller gives them, :meth:`update`).
        detect_every: K, the sampled frames from one keyframe to the next.
    """

    def __init__(self, detector: FaceDetector | None = None, detect_every: int = 1) -> None:
        self.detector, self.detect_every = detector, detect_every
        self.live: list[Sighting] = []
        self.head: list[Sighting] = []
        self.first_colours: np.ndarray | None = None
        self.last_colours: np.ndarray | None = None
        self.previous: Detections | None = None  # the faces of the previous sampled frame
        #: why the whole frame was searched, how often: "keyframe", "cut", "lost" (and "around": it was not)
        self.searches: Counter[str] = Counter()

    def find(self, frame: Frame) -> tuple[Detections, list[int]]:
        """The faces of the next sampled frame and their track ids.

        Args:
            frame: the sampled frame (:class:`batchface.media.video.Frame`).

        Returns:
            Its faces, in its pixels, and each one's track id (the piece's own, from 0).
        """
        assert self.detector is not None, "a Tracker made without a detector is given the faces: update"
        cut = self._look(frame.image)
        keyframe = self.previous is None or is_keyframe(frame.sample, self.detect_every)
        why = "cut" if cut else "keyframe" if keyframe else None
        found = None if why or self.previous is None else self._near(frame.image, self.previous)
        if found is None:
            why, found = why or "lost", self.detector.detect(frame.image)
        self.searches[why or "around"] += 1
        self.previous = found
        return found, self._follow(frame.timestamp_s, found.boxes)

    def _near(self, image: np.ndarray, previous: Detections) -> Detections | None:
        """The faces of ``previous`` found again around where they were; None if one is lost."""
        assert self.detector is not None
        picked = []
        for box in previous.boxes:
            near = self.detector.detect_near(image, box)
            if near is None:  # a detector that does not look near a box
                return None
            overlaps = np.array([iou(box, b) for b in near.boxes])
            if not len(overlaps) or overlaps.max() < MIN_IOU:
                return None
            picked.append(near.select([int(overlaps.argmax())]))
        found = Detections.joined(picked)
        return found.select(nms(found.boxes, found.scores, MIN_IOU)).sorted()  # two tracks, one face: once

    def update(self, time: float, image_bgr: np.ndarray, boxes: Sequence[Box] | np.ndarray) -> list[int]:
        """The track ids of faces found by someone else.

        Args:
            time: the frame's time, seconds of video.
            image_bgr: the frame, 8-bit BGR.
            boxes: its faces, (x, y, w, h) pixels.

        Returns:
            Each box's track id (the piece's own, from 0).
        """
        self._look(image_bgr)
        return self._follow(time, boxes)

    def _look(self, image_bgr: np.ndarray) -> bool:
        """Note a new frame's colours; at a scene cut every track ends. Returns whether there was one."""
        seen = colours(image_bgr)
        cut = is_cut(self.last_colours, seen)
        if cut:
            self.live = []
        if self.first_colours is None:
            self.first_colours = seen
        self.last_colours = seen
        return cut

    def _follow(self, time: float, boxes: Sequence[Box] | np.ndarray) -> list[int]:
        ids = []
        for box, t in zip(boxes, match(self.live, boxes, time)):
            sighting = Sighting(len(self.head) if t is None else self.live[t].id, time, tuple(float(v) for v in box))
            if t is None:  # a new track
                self.head.append(sighting)
                self.live.append(sighting)
            else:
                self.live[t] = sighting
            ids.append(sighting.id)
        return ids

    def piece(self) -> PieceTracks:
        """What the renumbering needs of the tracks so far (:class:`VideoTracks`).

        Returns:
            The piece's first and last colours, and its tracks' first and last sightings.
        """
        return PieceTracks(
            [] if self.first_colours is None else self.first_colours.tolist(),
            [] if self.last_colours is None else self.last_colours.tolist(),
            list(self.head),
            list(self.live),
            len(self.head),
        )


@dataclass
class VideoTracks:
    """The tracks of one video as its pieces are committed in order: the next free id, the colours
    of the last sampled frame committed and the tracks alive there (ids of the whole video).
    :meth:`state` and :meth:`from_state` carry it through the journal."""

    next_id: int = 0
    last_colours: list[float] = field(default_factory=list)
    tail: list[Sighting] = field(default_factory=list)

    def renumber(self, piece: PieceTracks) -> dict[int, int]:
        """The whole video's id of each of the piece's ids; the tracks it ends with become the tail.

        A track that opened the piece continues a track of the tail when their boxes overlap, no scene
        cut lies between, and it opened no later than :data:`GAP_S` seconds after the tail's sighting.

        Args:
            piece: the next piece's tracks (:meth:`Tracker.piece`).

        Returns:
            The whole video's id of each of the piece's own ids.
        """
        ids: dict[int, int] = {}
        if piece.head and not is_cut(self.last_colours or None, np.asarray(piece.first_colours, np.float32)):
            newest = max((s.time for s in self.tail), default=0.0)
            opening = [s for s in piece.head if s.time - newest <= GAP_S]
            for sighting, t in zip(opening, match(self.tail, [s.box for s in opening], newest)):
                if t is not None and sighting.time - self.tail[t].time <= GAP_S:
                    ids[sighting.id] = self.tail[t].id
        for local in range(piece.count):
            if local not in ids:
                ids[local], self.next_id = self.next_id, self.next_id + 1
        if piece.last_colours:
            self.last_colours = piece.last_colours
            self.tail = [Sighting(ids[s.id], s.time, s.box) for s in piece.tail]
        return ids

    def state(self) -> dict:
        """What the journal keeps of it, in JSON's types.

        Returns:
            ``next_id``, ``last_colours`` and ``tail`` (each sighting as [id, time, box]).
        """
        return {
            "next_id": self.next_id,
            "last_colours": self.last_colours,
            "tail": [[s.id, s.time, list(s.box)] for s in self.tail],
        }

    @classmethod
    def from_state(cls, state: dict) -> VideoTracks:
        """The tracks as the journal kept them.

        Args:
            state: what :meth:`state` gave.

        Returns:
            The same tracks.
        """
        tail = [Sighting(i, t, tuple(box)) for i, t, box in state["tail"]]
        return cls(state["next_id"], state["last_colours"], tail)


class TrackNumbers:
    """Track ids for the whole of each video whose pieces are committed, piece after piece in order.

    Args:
        states: what the journal held of the videos a killed run had begun, by video path
            (:meth:`VideoTracks.state`; None: nothing).
    """

    def __init__(self, states: dict | None = None) -> None:
        self.videos = {path: VideoTracks.from_state(state) for path, state in (states or {}).items()}

    def renumber(self, path: str, piece: PieceTracks | None, last: bool) -> tuple[dict | None, dict[int, int]]:
        """The whole video's track ids of a piece's own (which :class:`Tracker` gave its rows).

        Args:
            path: the video.
            piece: the piece's tracks (None: a piece without any).
            last: whether it is the video's last piece.

        Returns:
            The state to journal with a piece that is not its video's last (else None), and the whole
            video's id of each of the piece's own.
        """
        if piece is None:
            return None, {}
        ids = self.videos.setdefault(path, VideoTracks()).renumber(piece)
        if last:
            del self.videos[path]
            return None, ids
        return self.videos[path].state(), ids
