"""Annotated copies of the inputs: box, keypoints and expression label (and a video face's track id)
drawn on each face."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path, PurePath

import cv2
import numpy as np

from batchface.analysis import Face
from batchface.errors import one_line
from batchface.inputs import IMAGE_EXTENSIONS

BOX_COLOR, POINT_COLOR, TEXT_COLOR, POSE_COLOR = (0, 200, 0), (0, 220, 255), (255, 255, 255), (255, 120, 0)


def draw(image_bgr: np.ndarray, faces: list[Face], track_ids=None) -> np.ndarray:
    """A copy of the image with every face's box, landmarks and ``emotion score`` label, which
    starts with ``#id`` when ``track_ids`` gives the faces' tracks."""
    out = image_bgr.copy()
    scale = max(1, round(max(out.shape[:2]) / 800))
    for i, face in enumerate(faces):
        x, y, w, h = (int(round(v)) for v in face.box)
        cv2.rectangle(out, (x, y), (x + w, y + h), BOX_COLOR, 2 * scale)
        radius = max(1, round(w / 60))
        for px, py in face.landmarks.values():
            cv2.circle(out, (int(round(px)), int(round(py))), radius, POINT_COLOR, -1, cv2.LINE_AA)
        if face.pose is not None and "nose_bridge_3" in face.landmarks:
            cv2.line(out, *pose_line(face), POSE_COLOR, max(1, round(w / 80)), cv2.LINE_AA)
        label = ("" if track_ids is None else f"#{track_ids[i]} ") + f"{face.emotion} {face.emotion_score:.2f}"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, scale)
        top = max(0, y - th - base - 2)
        cv2.rectangle(out, (x, top), (x + tw + 2, top + th + base + 2), BOX_COLOR, -1)
        cv2.putText(
            out, label, (x + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, TEXT_COLOR, scale, cv2.LINE_AA
        )
    return out


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
    found under (:attr:`batchface.inputs.Source.relative`), below ``annotate_dir``; any root or
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


def write_image(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(path.suffix, image)
    if not ok:
        raise OSError(f"cannot encode {path.suffix} image")
    data.tofile(str(path))


class VideoSink:
    """An annotated video of the sampled frames, at the source's exact frame size, opened at the first
    frame (PyAV): H.264 in MP4 (4:2:0, what common players open) at ``path``; when a side is odd,
    which H.264's 4:2:0 cannot store, VP9 in WebM (browsers, VLC) at ``path`` with ``.webm`` instead.
    :attr:`path` is where it went.

    A video that cannot be written does not stop the analysis: :attr:`error` says why instead.
    """

    def __init__(self, path: Path, fps: float):
        import av  # here: a worker that writes no video need not load FFmpeg's libraries

        self.av = av
        self.path, self.fps = path, Fraction(fps).limit_denominator(1001)
        self.error: str | None = None
        self.container = self.stream = None

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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # an MP4's index at its start, so that a player can start before the end
        self.container = self.av.open(str(self.path), "w", options={"movflags": "+faststart"} if h264 else {})
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
        except Exception as e:
            self.error = self.error or f"annotated copy not written: {one_line(e)}"
