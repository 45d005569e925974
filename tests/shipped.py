"""Test media made from the public-domain photos shipped in ``tests/fixtures`` (README.md there names
their sources and licences), so that a fresh clone without ``../shared`` runs the detection, tracking
and annotation tests on real files: a group photo pasted together from the portraits at several
sizes, and a video of slow pans and zooms over them with hard cuts.

Boxes are (x, y, w, h) in pixels, origin top-left. The face box of each portrait was drawn by eye on
the photo (brow to chin, cheek to cheek); YuNet's and BlazeFace's boxes overlap it by an IoU over 0.6.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# file name: the face box in it
PORTRAITS = {"grace_hopper.jpg": (120, 80, 112, 136), "astronaut.jpg": (143, 52, 68, 84)}
FACELESS = FIXTURES / "coffee.jpg"  # a cup of coffee on a wooden table, 400 x 267

GROUP_SIZE = (720, 720)  # (width, height) of the group photo
GROUP_FACE_WIDTHS = (56, 88, 132)  # each portrait's face at these widths, in the group photo


def photo_for(request, name: str) -> Path:
    """The photo of the fixture ``name`` where conftest.py has one (``group_photo``, ``large_photo``),
    else the photo ``name`` of ../shared's samples (the test is skipped without them)."""
    if "/" not in name:
        value = request.getfixturevalue(name)
        return value[0] if isinstance(value, tuple) else value
    return request.getfixturevalue("samples") / name


def portrait(name: str) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """(the photo, the box of its one face)."""
    return cv2.imread(str(FIXTURES / name)), PORTRAITS[name]


def _paste(canvas: np.ndarray, image: np.ndarray, box, width: float, centre) -> tuple[float, ...]:
    """Paste a head-and-shoulders crop of ``image`` around ``box``, scaled so that the face is ``width``
    pixels wide, with the face's centre at ``centre`` of ``canvas``; returns the face's box there."""
    x, y, w, h = box
    scale = width / w
    face = (centre[0] - scale * w / 2, centre[1] - scale * h / 2, scale * w, scale * h)
    # the crop: half a face width to each side, half a height above, one below (neck and collar)
    left, top = max(0, int(x - 0.5 * w)), max(0, int(y - 0.5 * h))
    right, bottom = min(image.shape[1], int(x + 1.5 * w)), min(image.shape[0], int(y + 2 * h))
    crop = cv2.resize(image[top:bottom, left:right], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cx, cy = int(round(face[0] - scale * (x - left))), int(round(face[1] - scale * (y - top)))
    skip_x, skip_y = max(0, -cx), max(0, -cy)  # what falls off the canvas is left out
    part = crop[skip_y : canvas.shape[0] - cy, skip_x : canvas.shape[1] - cx]
    canvas[cy + skip_y : cy + skip_y + part.shape[0], cx + skip_x : cx + skip_x + part.shape[1]] = part
    return face


def write_group_photo(path: Path) -> list[tuple[float, ...]]:
    """A JPEG of six faces in two rows, the two portraits at three sizes each on a plain wall, no
    face covered, their centres strictly left to right; returns their boxes in that order."""
    canvas = np.empty((GROUP_SIZE[1], GROUP_SIZE[0], 3), np.uint8)
    canvas[:] = np.linspace(90, 160, GROUP_SIZE[0], dtype=np.uint8)[None, :, None]  # lit from one side
    boxes = []
    for row, (left, top) in enumerate(((20, 10), (94, 400))):  # the lower row shifted: centres alternate rows
        for k, width in enumerate(GROUP_FACE_WIDTHS):
            image, box = portrait(list(PORTRAITS)[(row + k) % 2])
            height = width * box[3] / box[2]
            boxes.append(_paste(canvas, image, box, width, (left + width, top + height)))
            left += 2 * width + 20  # crops are two face widths wide
    cv2.imwrite(str(path), canvas, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return sorted(boxes, key=lambda b: b[0] + b[2] / 2)


VIDEO_SIZE = (320, 240)  # (width, height)
VIDEO_FPS = 25
# the shots: (portrait or None for the faceless photo, frames); a hard cut between shots
VIDEO_SHOTS = (("grace_hopper.jpg", 30), ("astronaut.jpg", 25), (None, 10), ("grace_hopper.jpg", 25))


def _shot(image: np.ndarray, box, frames: int, start_width: float, end_width: float, drift) -> list[np.ndarray]:
    """Frames of a slow zoom over ``image`` (the face from ``start_width`` to ``end_width`` pixels wide)
    while the face's centre drifts by ``drift`` (pixels over the shot) from the frame's centre."""
    x, y, w, h = box
    out = []
    for i in range(frames):
        t = i / max(1, frames - 1)
        scale = (start_width + t * (end_width - start_width)) / w
        cx, cy = VIDEO_SIZE[0] / 2 + t * drift[0], VIDEO_SIZE[1] / 2 + t * drift[1]
        matrix = np.array([[scale, 0, cx - scale * (x + w / 2)], [0, scale, cy - scale * (y + h / 2)]])
        out.append(cv2.warpAffine(image, matrix, VIDEO_SIZE, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE))
    return out


def write_face_video(path: Path) -> list[int]:
    """An H.264 MP4 of :data:`VIDEO_SHOTS` at :data:`VIDEO_FPS`, written with PyAV; returns the frame
    index of each shot's first frame (the cuts, 0 first)."""
    import av

    starts, frames = [], []
    for k, (name, n) in enumerate(VIDEO_SHOTS):
        starts.append(len(frames))
        if name is None:
            still = cv2.resize(cv2.imread(str(FACELESS)), VIDEO_SIZE, interpolation=cv2.INTER_AREA)
            frames += [still] * n
        else:
            image, box = portrait(name)
            frames += _shot(image, box, n, 60 + 10 * k, 80 + 10 * k, (-30 + 20 * k, 10))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=VIDEO_FPS)
        stream.width, stream.height, stream.pix_fmt = VIDEO_SIZE[0], VIDEO_SIZE[1], "yuv420p"
        stream.codec_context.time_base = Fraction(1, VIDEO_FPS)
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(stream.encode(None))
    return starts
