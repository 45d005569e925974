"""Face tracks in a video: which face of one sampled frame is which face of the next.

A face's track is the face of the previous sampled frames whose box overlaps its own most, by at least
:data:`MIN_IOU` (intersection over union), matched greedily, best overlap first. A track that finds
no face for more than :data:`GAP_S` seconds of video ends; so do all tracks at a scene cut (a frame
whose colours differ from the previous sampled frame's by more than :data:`CUT`). A face that no
live track takes starts a new track.

A worker tracks the faces of its piece of a video (:class:`Tracker`, ids 0, 1, ... in the order of
their first appearance in the piece); whoever commits the pieces in order (the runner) renumbers them
for the whole video (:class:`VideoTracks`), continuing across the boundary the tracks that the
previous piece ended with. So ids are unique within a video, in order of first appearance, and a
person visible across a boundary keeps one id, also after ``--resume`` (the state between pieces
is journalled with them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import cv2
import numpy as np

from batchface.faces.boxes import Detections, iou, nms

#: a track that finds no face for longer than this many seconds of video ends
GAP_S = 1.0
#: the least overlap (intersection over union) of a face's box with its track's last box
MIN_IOU = 0.3
#: a scene cut: the Bhattacharyya distance between the hue-saturation histograms of two consecutive
#: sampled frames above this. On the sample clips, cuts measure 0.41 to 0.57 and consecutive frames of
#: one shot at most 0.16 (0.30 a second apart); two different clips 0.82 or more (reports/video.md)
CUT = 0.35


def colours(image_bgr: np.ndarray) -> np.ndarray:
    """What a scene cut is judged on: the normalised 16 x 8 hue-saturation histogram of a 64 x 36 thumbnail."""
    small = cv2.resize(image_bgr, (64, 36), interpolation=cv2.INTER_AREA)
    hist = cv2.calcHist([cv2.cvtColor(small, cv2.COLOR_BGR2HSV)], [0, 1], None, [16, 8], [0, 180, 0, 256])
    return cv2.normalize(hist, None).flatten()


def is_cut(before: np.ndarray | None, after: np.ndarray) -> bool:
    """Whether two consecutive sampled frames (their :func:`colours`) are on either side of a scene cut."""
    if before is None:
        return False
    distance = cv2.compareHist(np.asarray(before, np.float32), np.asarray(after, np.float32), cv2.HISTCMP_BHATTACHARYYA)
    return distance > CUT


@dataclass
class Sighting:
    """A track seen: its id, the time (seconds of video) and box (x, y, w, h, pixels) where it was."""

    id: int
    time: float
    box: tuple


def match(tracks: list[Sighting], boxes, time: float) -> list[int | None]:
    """For each box, the index in ``tracks`` of the live track that takes it, or None: greedy by
    overlap, each track at most one box, a track unseen for over :data:`GAP_S` seconds taking none."""
    pairs = sorted(
        (
            (iou(track.box, box), t, b)
            for t, track in enumerate(tracks)
            if time - track.time <= GAP_S
            for b, box in enumerate(boxes)
        ),
        reverse=True,
    )
    taken: list[int | None] = [None] * len(boxes)
    used = set()
    for overlap, t, b in pairs:
        if overlap < MIN_IOU:
            break
        if t not in used and taken[b] is None:
            taken[b], used = t, used | {t}
    return taken


@dataclass
class PieceTracks:
    """What the renumbering needs of a piece's tracks: the first sampled frame's colours and the
    sighting that opened each track (``head``), the last frame's colours and each track's last
    sighting (``tail``), and how many tracks the piece had. Ids are the piece's own."""

    first_colours: list
    last_colours: list
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
    the next keyframe.
    """

    def __init__(self, detector=None, detect_every: int = 1):
        self.detector, self.detect_every = detector, detect_every
        self.live: list[Sighting] = []
        self.head: list[Sighting] = []
        self.first_colours = self.last_colours = None
        self.previous: Detections | None = None  # the faces of the previous sampled frame
        #: why the whole frame was searched, how often: "keyframe", "cut", "lost" (and "around": it was not)
        self.searches: Counter = Counter()

    def find(self, frame) -> tuple[Detections, list[int]]:
        """The faces of a sampled frame (:class:`batchface.media.decoding.Frame`) and their track ids."""
        cut = self._look(frame.image)
        why = "cut" if cut else "keyframe" if self.previous is None or frame.sample % self.detect_every == 0 else None
        found = None if why else self._near(frame.image, self.previous)
        if found is None:
            why, found = why or "lost", self.detector.detect(frame.image)
        self.searches[why or "around"] += 1
        self.previous = found
        return found, self._follow(frame.timestamp_s, found.boxes)

    def _near(self, image, previous: Detections) -> Detections | None:
        """The faces of ``previous`` found again around where they were; None if one is lost."""
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

    def update(self, time: float, image_bgr: np.ndarray, boxes) -> list[int]:
        """The track ids of ``boxes`` (x, y, w, h pixels), the faces of the frame at ``time`` seconds."""
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

    def _follow(self, time: float, boxes) -> list[int]:
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
    last_colours: list = field(default_factory=list)
    tail: list[Sighting] = field(default_factory=list)

    def renumber(self, piece: PieceTracks) -> dict[int, int]:
        """The whole video's id of each of the piece's ids; the tracks it ends with become the tail.

        A track that opened the piece continues a track of the tail when their boxes overlap, no scene
        cut lies between, and it opened no later than :data:`GAP_S` seconds after the tail's sighting."""
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
        return {
            "next_id": self.next_id,
            "last_colours": self.last_colours,
            "tail": [[s.id, s.time, list(s.box)] for s in self.tail],
        }

    @classmethod
    def from_state(cls, state: dict) -> VideoTracks:
        tail = [Sighting(i, t, tuple(box)) for i, t, box in state["tail"]]
        return cls(state["next_id"], state["last_colours"], tail)


class TrackNumbers:
    """Track ids for the whole of each video whose pieces are committed, piece after piece in order;
    ``states``: what the journal held of the videos a killed run had begun (path -> :meth:`VideoTracks.state`)."""

    def __init__(self, states: dict | None = None):
        self.videos = {path: VideoTracks.from_state(state) for path, state in (states or {}).items()}

    def renumber(self, path, piece: PieceTracks | None, rows: list[dict], last: bool) -> tuple[dict | None, dict]:
        """Give the ``track_id`` of a piece's ``rows`` (the piece's own ids, from :class:`Tracker`) the
        whole video's ids. Returns the state to journal with a piece that is not its video's ``last``
        (else None), and the whole video's id of each of the piece's own."""
        if piece is None:
            return None, {}
        ids = self.videos.setdefault(path, VideoTracks()).renumber(piece)
        for row in rows:
            if row.get("track_id") is not None:
                row["track_id"] = ids[row["track_id"]]
        if last:
            del self.videos[path]
            return None, ids
        return self.videos[path].state(), ids
