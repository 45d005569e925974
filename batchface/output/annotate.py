"""Annotated copies of the inputs: box, keypoints and expression label (and a video face's track id)
drawn on each face."""

from __future__ import annotations

import itertools
import os
from fractions import Fraction
from pathlib import Path, PurePath
from typing import NamedTuple

import cv2
import numpy as np

from batchface.errors import one_line
from batchface.faces.analysis import Face
from batchface.media.inputs import IMAGE_EXTENSIONS

BOX_COLOR, POINT_COLOR, TEXT_COLOR, POSE_COLOR = (0, 200, 0), (0, 220, 255), (255, 255, 255), (255, 120, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX
#: faces narrower than this (box width, pixels) get no keypoints nor pose line: at that size the
#: points would cover the face they describe
POINTS_FROM = 48
#: a label over another label hides both: it costs this many times a label over a face
OVER_LABEL = 20


def draw(image_bgr: np.ndarray, faces: list[Face], track_ids=None) -> np.ndarray:
    """A copy of the image with every face's box, landmarks and ``emotion score`` label, which
    starts with ``#id`` when ``track_ids`` gives the faces' tracks.

    Sizes follow the face (:func:`label_height`, :func:`line_width`); a face narrower than
    :data:`POINTS_FROM` pixels keeps only its box and label; labels are placed by :func:`place_labels`."""
    out = image_bgr.copy()
    for face in faces:
        w = face.box[2]
        if w < POINTS_FROM:
            continue
        radius = max(1, round(w / 120))
        for px, py in face.landmarks.values():
            cv2.circle(out, (int(round(px)), int(round(py))), radius, POINT_COLOR, -1, cv2.LINE_AA)
        if face.pose is not None and "nose_bridge_3" in face.landmarks:
            cv2.line(out, *pose_line(face), POSE_COLOR, line_width(w), cv2.LINE_AA)
    labels = [
        ("" if track_ids is None else f"#{track_ids[i]} ") + f"{face.emotion} {face.emotion_score:.2f}"
        for i, face in enumerate(faces)
    ]
    draw_boxes(out, [face.box for face in faces], labels)
    return out


def line_width(face_width: float) -> int:
    """The width in pixels of a face's box and pose line: 1 pixel per 60 of the face's width, at least 1."""
    return max(1, round(face_width / 60))


def label_height(face_width: float, image_shape) -> int:
    """A label's text height in pixels: a fifth of the face's width, kept between 1/110 of the image's
    longer side (at least 10 px: readable at any zoom) and 1/35 of it (a close-up's label does not
    cover the face)."""
    side = max(image_shape[:2])
    low = max(10, side / 110)
    return int(round(min(max(face_width / 5, low), max(low, side / 35))))


def draw_boxes(image: np.ndarray, boxes, labels) -> None:
    """Draw, in place, each box (x, y, w, h, pixels, origin top-left) and its label: all boxes first,
    then the labels where :func:`layout_labels` puts them, white on a filled background."""
    for x, y, w, h in boxes:
        x0, y0, x1, y1 = (int(round(v)) for v in (x, y, x + w, y + h))
        cv2.rectangle(image, (x0, y0), (x1, y1), BOX_COLOR, line_width(w))
    for label, text in zip(layout_labels(boxes, labels, image.shape), labels):
        x, y, w, h = label.rect
        cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), BOX_COLOR, -1)
        origin = (x + label.pad, y + h - label.pad - label.baseline)
        cv2.putText(image, text, origin, FONT, label.scale, TEXT_COLOR, label.thickness, cv2.LINE_AA)


class Label(NamedTuple):
    """Where a label goes: ``rect`` (x, y, w, h, pixels) of its background; its text's font scale,
    stroke thickness, padding and baseline (OpenCV's ``getTextSize``), in pixels but the scale."""

    rect: tuple[int, int, int, int]
    scale: float
    thickness: int
    pad: int
    baseline: int


def layout_labels(boxes, labels, image_shape) -> list[Label]:
    """Each text of ``labels`` at its size for its face's box (:func:`label_height`) and its place
    (:func:`place_labels`) in an image of ``image_shape``."""
    sizes = []
    for (_, _, w, _), text in zip(boxes, labels):
        height = label_height(w, image_shape)
        thickness = max(1, round(height / 12))
        scale = cv2.getFontScaleFromHeight(FONT, height, thickness)
        (tw, th), baseline = cv2.getTextSize(text, FONT, scale, thickness)
        pad = max(1, height // 6)
        sizes.append(((tw + 2 * pad, th + baseline + 2 * pad), scale, thickness, pad, baseline))
    corners = place_labels([size for size, *_ in sizes], boxes, image_shape)
    return [Label((x, y, *size), *rest) for (x, y), (size, *rest) in zip(corners, sizes)]


def place_labels(sizes, boxes, image_shape) -> list[tuple[int, int]]:
    """The top-left corner (x, y, pixels) of each label of ``sizes`` (width, height), for the face
    ``boxes`` (x, y, w, h): inside the image, over no label placed before it and over as little of
    another face as can be. Labels are placed from the top face down. Each tries, in order, above
    its box, below it, inside its top and bottom edges, then a label's height further up and down,
    each flush with the box's left edge then its right, shifted into the image; it takes the first
    place that covers nothing, else the one whose cost is least: the area it shares with other
    faces' boxes, and :data:`OVER_LABEL` times what it shares with labels."""
    height, width = image_shape[:2]
    rects = np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], dtype=float).reshape(-1, 4)
    placed: list[tuple[int, int, int, int]] = []
    corners: list[tuple[int, int]] = [(0, 0)] * len(sizes)
    for i in np.argsort(rects[:, 1], kind="stable"):
        (lw, lh), (x0, y0, x1, y1) = sizes[i], rects[i]
        others = np.delete(rects, i, axis=0)
        best, best_cost = (0, 0), None
        for top, left in itertools.product((y0 - lh, y1, y0, y1 - lh, y0 - 2 * lh, y1 + lh), (x0, x1 - lw)):
            lx = int(min(max(0, round(left)), max(0, width - lw)))
            ly = int(min(max(0, round(top)), max(0, height - lh)))
            rect = (lx, ly, lx + lw, ly + lh)
            cost = OVER_LABEL * _overlap(rect, placed) + _overlap(rect, others)
            if best_cost is None or cost < best_cost:
                best, best_cost = (lx, ly), cost
            if cost == 0:
                break
        corners[i] = best
        placed.append((best[0], best[1], best[0] + lw, best[1] + lh))
    return corners


def _overlap(rect, others) -> float:
    """The area (pixels) that rectangle ``rect`` (x0, y0, x1, y1) shares with the rectangles ``others``
    (a sequence of them), added up."""
    o = np.asarray(others, dtype=float).reshape(-1, 4)
    w = np.clip(np.minimum(rect[2], o[:, 2]) - np.maximum(rect[0], o[:, 0]), 0, None)
    h = np.clip(np.minimum(rect[3], o[:, 3]) - np.maximum(rect[1], o[:, 1]), 0, None)
    return float((w * h).sum())


def pose_line(face: Face) -> tuple[tuple[int, int], tuple[int, int]]:
    """Where the face looks: a line from the nose tip as long as the box is wide when the face
    looks straight at the camera, foreshortened as the nose would be by the yaw and pitch."""
    yaw, pitch, _ = np.radians(face.pose)
    nx, ny = face.landmarks["nose_bridge_3"]
    length = face.box[2] / 2
    end = (nx + length * np.sin(yaw), ny - length * np.sin(pitch) * np.cos(yaw))
    return (int(round(nx)), int(round(ny))), (int(round(end[0])), int(round(end[1])))


def mirrored_path(annotate_dir, source: str, media_type: str) -> Path:
    """Where the annotated copy of an input goes: ``source``, its path relative to the argument it was
    found under (:attr:`batchface.media.inputs.Source.relative`), below ``annotate_dir``; any root or
    ``..`` in it is dropped or becomes ``__``. Videos become ``.mp4`` (``.webm`` if a side is odd:
    :class:`VideoSink`); images keep their format when OpenCV can write it, else become ``.png``.
    """
    parts = [
        ("__" if p == ".." else p) for p in PurePath(source).parts if p not in ("/", ".") and not p.endswith(":\\")
    ]
    target = Path(annotate_dir).joinpath(*parts)
    if media_type == "video":
        return target.with_name(target.name + ".mp4") if target.suffix.lower() != ".mp4" else target
    return target if target.suffix.lower() in IMAGE_EXTENSIONS else target.with_name(target.name + ".png")


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_apart(annotate_dir, out) -> None:
    """Refuse (ValueError) a folder output ``out`` that is the ``--annotate`` folder, or one inside
    the other: the copies would be read as part files, or the part files' folder walked for copies."""
    copies, table = os.path.realpath(annotate_dir), os.path.realpath(out)
    if _inside(table, copies) or _inside(copies, table):
        raise ValueError(f"--annotate {annotate_dir} and the folder output --out {out} must be apart")


def check_copies(annotate_dir, paths, sources, out=None) -> None:
    """Refuse, before any work (ValueError), annotated copies that could replace what is not theirs:
    ``annotate_dir`` holding an input or an argument of ``paths`` (a copy goes to its path below the
    argument it was found under, where there can be another input, or itself), or a copy whose
    path is the output file ``out``. Paths are compared real (links followed)."""
    root = os.path.realpath(annotate_dir)
    named = [*map(os.fspath, paths), *(s.path for s in sources)]
    held = next((p for p in named if _inside(os.path.realpath(p), root)), None)
    if held is not None:
        raise ValueError(
            f"--annotate {annotate_dir} holds an input ({held}): its copies could replace inputs; "
            "choose a folder that holds none"
        )
    table = os.path.realpath(out) if out is not None else None
    for source in sources:
        copy = mirrored_path(annotate_dir, source.relative, source.media_type)
        if table in {os.path.realpath(copy), os.path.realpath(copy.with_suffix(".webm"))}:
            raise ValueError(f"the annotated copy of {source.path} would replace the output {out}")


def _check_no_link(path: Path, root) -> None:
    """Refuse a copy's path below ``root`` that a symbolic link there leads elsewhere (onto an input,
    perhaps): a copy is written at its own path or not at all."""
    if root is not None and os.path.realpath(path) != os.path.join(os.path.realpath(root), os.path.relpath(path, root)):
        raise OSError(f"{path} leads through a symbolic link, which a copy never follows")


def write_image(path: Path, image: np.ndarray, root=None) -> None:
    """Write an annotated image at ``path`` below ``root`` (the ``--annotate`` folder): whole or not
    at all (a temporary file renamed), never through a symbolic link."""
    _check_no_link(path, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(path.suffix, image)
    if not ok:
        raise OSError(f"cannot encode {path.suffix} image")
    temporary = path.with_name(f".{path.name}.tmp")
    data.tofile(str(temporary))
    os.replace(temporary, path)


class VideoSink:
    """An annotated video of the sampled frames, at the source's exact frame size, opened at the first
    frame (PyAV): H.264 in MP4 (4:2:0, what common players open) at ``path``; when a side is odd,
    which H.264's 4:2:0 cannot store, VP9 in WebM (browsers, VLC) at ``path`` with ``.webm`` instead.
    :attr:`path` is where it went: written beside it and renamed there when whole, never through a
    symbolic link below ``root`` (the ``--annotate`` folder).

    A video that cannot be written does not stop the analysis: :attr:`error` says why instead.
    """

    def __init__(self, path: Path, fps: float, root=None):
        import av  # here: a worker that writes no video need not load FFmpeg's libraries

        self.av = av
        self.path, self.fps, self.root = path, Fraction(fps).limit_denominator(1001), root
        self.error: str | None = None
        self.container = self.stream = None
        self._temporary: Path | None = None

    def add(self, index: int, image: np.ndarray, faces: list[Face], track_ids=None) -> None:
        """Write the next sampled frame (``index``: its ``frame_index``) with its faces drawn (:func:`draw`)."""
        self.write(draw(image, faces, track_ids))

    def write(self, image: np.ndarray) -> None:
        if self.error:
            return
        try:
            if self.container is None:
                self._open(*image.shape[1::-1])
            frame = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            self.container.mux(self.stream.encode(frame))
        except Exception as e:  # whatever fails here is the copy's problem, never the rows'
            self.error = f"annotated copy not written: {one_line(e)}"

    def _open(self, width: int, height: int) -> None:
        h264 = width % 2 == 0 and height % 2 == 0
        if not h264:
            self.path = self.path.with_suffix(".webm")
        _check_no_link(self.path, self.root)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._temporary = self.path.with_name(f".{self.path.name}.tmp")
        # an MP4's index at its start, so that a player can start before the end
        self.container = self.av.open(
            str(self._temporary),
            "w",
            format="mp4" if h264 else "webm",
            options={"movflags": "+faststart"} if h264 else {},
        )
        if h264:
            self.stream = self.container.add_stream("libx264", rate=self.fps, options={"preset": "veryfast"})
        else:
            self.stream = self.container.add_stream(
                "libvpx-vp9", rate=self.fps, options={"deadline": "realtime", "cpu-used": "8", "crf": "32", "b": "0"}
            )
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"

    def close(self) -> None:
        if self.container is None:
            return
        try:
            if not self.error:
                self.container.mux(self.stream.encode())  # what the encoder still holds
            self.container.close()
            if not self.error:
                os.replace(self._temporary, self.path)
        except Exception as e:
            self.error = self.error or f"annotated copy not written: {one_line(e)}"
        if self._temporary.exists():
            self._temporary.unlink()


def piece_path(copy: Path, start: int, suffix: str) -> Path:
    """Where a piece of a video's annotated copy ``copy`` is kept until the pieces are joined
    (:func:`join_pieces`): hidden beside it, named by the piece's first frame, ending in ``suffix``."""
    return copy.with_name(f".{copy.name}.piece-{start:09d}{suffix}")


class FacesLog:
    """The faces of a piece of a video, frame by frame, kept in a file at ``path`` for the drawing of
    its annotated copy once the track ids are those of the whole video (a piece's own ids are
    renumbered when the pieces are committed in order: :class:`batchface.faces.tracking.VideoTracks`).
    Like :class:`VideoSink`, never stops the analysis: :attr:`error` says why it failed instead."""

    def __init__(self, path: Path):
        self.path, self.error, self.frames = path, None, {}

    def add(self, index: int, image: np.ndarray, faces: list[Face], track_ids=None) -> None:
        """Keep the faces of frame ``index`` and their track ids (the piece's own)."""
        self.frames[index] = (faces, track_ids)

    def close(self) -> None:
        import pickle

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f"{self.path.name}.tmp")
            temporary.write_bytes(pickle.dumps(self.frames))
            os.replace(temporary, self.path)
        except Exception as e:
            self.error = f"annotated copy not written: {one_line(e)}"


def read_faces(path: Path) -> dict:
    """The faces :class:`FacesLog` kept: {frame_index: (faces, the piece's track ids)}."""
    import pickle

    return pickle.loads(path.read_bytes())


def join_pieces(pieces: list[Path], path: Path, root=None) -> None:
    """Join the annotated videos of a video's pieces, in order, into ``path`` (below ``root``, the
    ``--annotate`` folder) without coding them again: their packets copied (remuxed), each piece's
    times moved after the previous piece's end. Written beside it and renamed there when whole."""
    import av

    _check_no_link(path, root)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with av.open(str(pieces[0])) as first:
            template = first.streams.video[0]
            options = {"movflags": "+faststart"} if path.suffix == ".mp4" else {}
            with av.open(str(temporary), "w", format=first.format.name.split(",")[0], options=options) as out:
                stream = out.add_stream_from_template(template)
                offset = 0
                for piece in pieces:  # each one's times from 0
                    offset = _copy_packets(piece, out, stream, offset)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def _copy_packets(piece: Path, out, stream, offset: int) -> int:
    """Mux the packets of ``piece`` into ``stream``, ``offset`` later (in the pieces' time base, one
    for all: one encoder and muxer wrote them at one rate); returns where the piece ends."""
    import av

    end = offset
    with av.open(str(piece)) as source:
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is None:  # the demuxer's last, empty packet
                continue
            packet.pts, packet.dts = packet.pts + offset, packet.dts + offset
            end = max(end, packet.pts + (packet.duration or 0))
            packet.stream = stream  # its time base stays the piece's: mux converts it to the stream's
            out.mux(packet)
    return end
